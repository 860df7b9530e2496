"""Unit tests of the facts reader (readers.facts, module lab.multihost.node_facts): on the
os-release files of the lab's two Debian releases and the `ip -j -4 addr show` of docker-node1
of the converged lab, each fact as Ansible's setup module gave it on the same node."""

import json
import pathlib

import pytest
from ansible_collections.lab.multihost.plugins.module_utils.readers import facts

FIXTURES = pathlib.Path(__file__).parent / 'fixtures'
IP_NODE1 = (FIXTURES / 'ip-4-addr-docker-node1.json').read_text()


@pytest.mark.parametrize(('release', 'want'), [
    ('os-release-debian-12', {'distribution': 'Debian', 'distribution_release': 'bookworm',
                              'distribution_major_version': '12', 'os_family': 'Debian'}),
    ('os-release-debian-13', {'distribution': 'Debian', 'distribution_release': 'trixie',
                              'distribution_major_version': '13', 'os_family': 'Debian'}),
])
def test_the_distribution_as_setup_names_it(release, want):
    assert facts.distribution(facts.os_release((FIXTURES / release).read_text())) == want


def test_a_debian_derivative_is_of_the_debian_family():
    fields = facts.os_release('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n')
    assert facts.distribution(fields) == {'distribution': 'Ubuntu', 'distribution_release': 'noble',
                                          'distribution_major_version': '24', 'os_family': 'Debian'}


def test_another_family_is_not_debian():
    """The docker and firewall roles refuse an OS family other than Debian: it must not read as one."""
    fields = facts.os_release('NAME="Fedora Linux"\nID=fedora\nVERSION_ID=41\n')
    assert facts.distribution(fields)['os_family'] == 'Fedora'


def test_every_ipv4_address_but_the_loopbacks():
    """The ones setup gave on the same node (in its own order; the roles only look an address up)."""
    got = facts.ipv4_addresses(IP_NODE1)
    assert sorted(got) == sorted(['172.17.0.1', '172.18.0.1', '192.168.205.10', '172.19.0.1'])
    assert len(got) == 4


def test_local_facts_json_and_ini_by_file_name(tmp_path):
    (tmp_path / 'overlay_backend.fact').write_text(json.dumps({'backend': 'cluster-store', 'etcd_port': '2379'}))
    (tmp_path / 'old.fact').write_text('[section]\nkey = value\n')
    (tmp_path / 'broken.fact').write_text('{not json, [not ini')
    (tmp_path / 'notes.txt').write_text('not a fact')
    assert facts.local_facts(str(tmp_path)) == {
        'broken': 'error loading facts as JSON or INI - please check content',
        'old': {'section': {'key': 'value'}},
        'overlay_backend': {'backend': 'cluster-store', 'etcd_port': '2379'}}


def test_no_fact_directory_reads_as_no_local_facts(tmp_path):
    """A fresh node: ansible_local is an empty dict, as setup returns it."""
    assert facts.local_facts(str(tmp_path / 'missing')) == {}


def test_the_node_facts_together(tmp_path):
    (tmp_path / 'os-release').write_text((FIXTURES / 'os-release-debian-12').read_text())
    (tmp_path / 'facts.d').mkdir()
    (tmp_path / 'facts.d' / 'etcd.fact').write_text('{"peer_port": 2380}')
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, IP_NODE1, ''

    got = facts.node_facts(run, fact_path=str(tmp_path / 'facts.d'), os_release_path=str(tmp_path / 'os-release'))
    assert calls == [['ip', '-j', '-4', 'addr', 'show']]
    assert got['local'] == {'etcd': {'peer_port': 2380}}
    assert '192.168.205.10' in got['all_ipv4_addresses']
    assert got['distribution_release'] == 'bookworm' and got['hostname']


def test_without_ip_the_addresses_are_empty(tmp_path):
    """A node without iproute2 (none of the lab's): no address, so the roles' address checks refuse."""
    got = facts.node_facts(lambda argv: (127, '', 'ip: not found'), fact_path=str(tmp_path),
                           os_release_path=str(tmp_path / 'missing'))
    assert got['all_ipv4_addresses'] == [] and got['distribution'] == 'Unknown'
