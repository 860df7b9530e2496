# Copyright: (c) 2026, Lab multihost maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NodeReader: the batch of readers lab.multihost.node_state runs, every part optional."""

from ansible_collections.lab.multihost.plugins.module_utils.readers.docker import engine_api, read_engine
from ansible_collections.lab.multihost.plugins.module_utils.readers.etcd import healthy
from ansible_collections.lab.multihost.plugins.module_utils.readers.files import accounts, file_contents, file_facts
from ansible_collections.lab.multihost.plugins.module_utils.readers.nft import table_matches
from ansible_collections.lab.multihost.plugins.module_utils.readers.packages import read_candidates, read_packages
from ansible_collections.lab.multihost.plugins.module_utils.readers.units import read_units


class NodeReader:
    """Reads the parts of a node's state a stage asks for, through one command runner
    (``run(argv) -> (rc, stdout, stderr)``) and one Docker API client (``api(path)``)."""

    def __init__(self, run, api=engine_api):
        self.run = run
        self.api = api

    def read(self, files=(), units=(), packages=(), docker=False, nft=None, contents=(),
             etcd_health=None, owners=None):
        """owners: (users, groups) whose existence to read, for the files wanted with them."""
        state = {'files': {p: file_facts(p) for p in files},
                 'units': read_units(self.run, list(units)),
                 'packages': read_packages(self.run, list(packages))}
        missing = [name for name, version in state['packages'].items() if not version]
        if missing:
            state['candidates'] = read_candidates(self.run, missing)
        if owners:
            state['accounts'] = accounts(*owners)
        if docker:
            state['docker'] = read_engine(self.api)
        if nft:
            state['nft'] = {nft['table']: table_matches(self.run, nft['table'], nft['ruleset'])}
        if contents:
            state['contents'] = {p: file_contents(p) for p in contents}
        if etcd_health:
            state['etcd_healthy'] = healthy(self.run, **etcd_health)
        return state
