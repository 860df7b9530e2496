#!/usr/bin/python
# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: delay, jitter, loss, duplication and a rate limit on an interface's egress."""

DOCUMENTATION = r'''
---
module: impair
short_description: Impair the traffic an interface sends (delay, jitter, loss, duplication, rate)
description:
  - Sets delay, jitter, loss, duplication and a rate limit on the egress of one interface of the
    node or of a named network namespace, for all its traffic or for a match (destinations,
    protocol, destination port). One impairment per interface and namespace.
  - Two backends. C(netem) is the kernel's tc netem qdisc (a prio band and u32 filters for a
    match; a rate is a tbf under netem). C(queue), for kernels without sch_netem, is an iptables
    mangle rule C(-j NFQUEUE --queue-bypass) and a listener process that holds each packet, drops
    and duplicates; it fails open (a stopped listener lets traffic pass unimpaired, and the
    read-back says so). A rate alone is tc tbf (htb with u32 filters for a match) on either.
  - The impairment is recorded in C(/etc/lab/impair/<key>.json) and, on a node whose init is
    systemd, restored at boot by C(lab-impair.service) (the engine is copied to
    C(/usr/local/lib/lab-multihost/impair)). C(state=absent) removes only what this module set;
    with the last impairment gone, the units, the engine copy and the record directory go too.
  - Check mode reads the node and reports the exact commands it would run; it writes nothing.
    If a step fails, what this run applied is undone and the error names the command.
  - See docs/impair.md for the queue backend's limits and how to read the counters.
options:
  interface:
    description: The interface whose egress traffic is impaired (at most 15 bytes of C([A-Za-z0-9_.-])).
    type: str
    required: true
  namespace:
    description: A named network namespace (C(ip netns)) holding the interface; omitted means the node itself.
    type: str
  delay:
    description: Added delay, a number and C(us), C(ms) or C(s), e.g. C(50ms). A bare number is refused.
    type: str
  jitter:
    description: The delay varies by up to this much either way (uniform), e.g. C(10ms). Needs O(delay).
    type: str
  loss:
    description: Packets lost, in percent, from 0 to 100, e.g. C(1%) or C(0.5).
    type: str
  duplicate:
    description: Packets duplicated, in percent, from 0 to 100.
    type: str
  rate:
    description: Rate limit, a number and C(kbit), C(mbit) or C(gbit), e.g. C(10mbit).
    type: str
  match:
    description: Impair only this traffic; omitted means all the interface sends.
    type: dict
    suboptions:
      destinations:
        description: IPv4 addresses or CIDRs the traffic goes to; empty means any.
        type: list
        elements: str
      protocol:
        description: The IP protocol.
        type: str
        choices: [udp, tcp, icmp]
      port:
        description: The destination port; needs O(match.protocol) C(udp) or C(tcp).
        type: int
  backend:
    description:
      - C(auto) uses netem where the kernel has sch_netem (probed once per run, in a throwaway
        namespace), else the queue.
    type: str
    choices: [auto, netem, queue]
    default: auto
  state:
    description: Whether the impairment should be in place. With C(present), give at least one of
      O(delay), O(loss), O(duplicate), O(rate).
    type: str
    choices: [present, absent]
    default: present
requirements:
  - iproute2 (C(ip), C(tc))
  - iptables (the queue backend)
  - python3 3.9+ on the node
extends_documentation_fragment:
  - lab.multihost.attributes
author:
  - Lab multihost maintainers (@lab-multihost)
'''

EXAMPLES = r'''
- name: 50 ms more on the VXLAN traffic to the other nodes
  lab.multihost.impair:
    interface: eth0
    delay: 50ms
    jitter: 5ms
    match:
      protocol: udp
      port: 4789
      destinations: [192.168.205.10]

- name: Loss and a rate limit on a namespace's link
  lab.multihost.impair:
    namespace: test1
    interface: veth-test1
    loss: 1%
    rate: 10mbit

- name: What is in force, and the backend holding it
  lab.multihost.impair:
    interface: eth0
    delay: 50ms
  register: impaired

- name: Show it
  ansible.builtin.debug:
    msg: "{{ impaired.impairment.summary }}"

- name: Clear it
  lab.multihost.impair:
    interface: eth0
    state: absent
'''

RETURN = r'''
backend:
  description: The backend holding the impairment (C(netem) or C(queue)); null when absent and nothing was recorded.
  returned: always
  type: str
  sample: queue
operations:
  description: The commands and file changes this task ran (in check mode, would run), in order.
  returned: always
  type: list
  elements: str
  sample:
    - iptables -w -t mangle -N LABIMP-host-eth0
    - iptables -w -t mangle -A POSTROUTING -o eth0 -j LABIMP-host-eth0
impairment:
  description:
    - The impairment read back from the node after the change (in check mode, as it is now);
      null when none is recorded.
  returned: always
  type: dict
  contains:
    key:
      description: The impairment's name, C(<namespace or host>-<interface>).
      type: str
    interface:
      description: The interface.
      type: str
    namespace:
      description: The namespace, null for the node itself.
      type: str
    backend:
      description: C(netem) or C(queue).
      type: str
    delay:
      description: The delay, e.g. C(50ms); null when none.
      type: str
    jitter:
      description: The jitter; null when none.
      type: str
    loss:
      description: The loss, e.g. C(1%); null when none.
      type: str
    duplicate:
      description: The duplication; null when none.
      type: str
    rate:
      description: The rate limit, e.g. C(10mbit); null when none.
      type: str
    match:
      description: The traffic impaired (destinations, protocol, port); null for all.
      type: dict
    in_force:
      description: Whether the kernel (and the listener) hold what the record declares.
      type: bool
    problems:
      description: What is not in force, e.g. C(listener not running, packets pass undelayed).
      type: list
      elements: str
    listener:
      description: The queue backend's listener (pid, running, received, dropped, duplicated, held); null otherwise.
      type: dict
    queue:
      description: The kernel's queue (number, length, kernel_dropped, user_dropped); null for netem.
      type: dict
    fail_open_packets:
      description: Packets the rule queued that the listener never got (they passed unimpaired).
      type: int
    summary:
      description: All of it in one line, as the stage recap and the report show it.
      type: str
      sample: "eth0: delay 50ms for udp/4789 to 192.168.205.10 (backend queue, in force)"
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lab.multihost.plugins.module_utils.impair.engine import run_module


def main():
    module = AnsibleModule(
        argument_spec={
            'interface': {'type': 'str', 'required': True},
            'namespace': {'type': 'str'},
            'delay': {'type': 'str'},
            'jitter': {'type': 'str'},
            'loss': {'type': 'str'},
            'duplicate': {'type': 'str'},
            'rate': {'type': 'str'},
            'match': {'type': 'dict', 'options': {
                'destinations': {'type': 'list', 'elements': 'str'},
                'protocol': {'type': 'str', 'choices': ['udp', 'tcp', 'icmp']},
                'port': {'type': 'int'},
            }},
            'backend': {'type': 'str', 'default': 'auto', 'choices': ['auto', 'netem', 'queue']},
            'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
        },
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == '__main__':
    main()
