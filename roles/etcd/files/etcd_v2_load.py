# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a saved v2 keyspace (GET /v2/keys/?recursive=true) back into etcd.

usage: python3 etcd_v2_load.py FILE URL [CA CERT KEY]
       e.g. https://127.0.0.1:2379 /etc/lab/pki/ca.crt /etc/lab/pki/etcdctl.crt /etc/lab/pki/etcdctl.key

Every key with a value is PUT; keys with a TTL (Docker's node registrations,
renewed by dockerd itself) are left out. Prints how many keys it wrote.
"""

import json
import ssl
import sys
import urllib.parse
import urllib.request


def leaves(node):
    """(key, value) of every key under node that holds a value and has no TTL."""
    if node.get("dir"):
        for child in node.get("nodes", []):
            yield from leaves(child)
    elif "value" in node and not node.get("ttl"):
        yield node["key"], node["value"]


def put(url, key, value, context=None):
    data = urllib.parse.urlencode({"value": value}).encode()
    req = urllib.request.Request(f"{url}/v2/keys{urllib.parse.quote(key)}", data=data, method="PUT")
    with urllib.request.urlopen(req, timeout=10, context=context) as res:
        res.read()


def tls_context(ca, cert, key):
    """Trust only the lab's CA and show etcdctl's client certificate."""
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    return context


def main():
    path, url = sys.argv[1], sys.argv[2].rstrip("/")
    context = tls_context(*sys.argv[3:6]) if len(sys.argv) >= 6 else None
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    count = 0
    for key, value in leaves(saved["node"]):
        put(url, key, value, context)
        count += 1
    print(f"wrote {count} keys")


if __name__ == "__main__":
    main()
