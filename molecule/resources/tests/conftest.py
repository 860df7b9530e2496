"""Fixtures of the molecule scenarios' tests: the lab's nodes, drawn from its inventory (labkit).

Which scenario a test runs in is written on the test: ``@pytest.mark.scenarios("default", "swarm")``;
a test without the mark runs in every scenario. The scenario is read from the lab under test (its
inventory's name and node count, and its overlay backend: labkit.scenario), so the same selection
holds for `make verify` against `make lab`.
"""

import pytest
from labkit import Inventory, Node, lab_nodes, scenario, start_run_log

INVENTORY = Inventory()
SCENARIOS = ("default", "ha", "swarm", "scale", "scale-swarm")


def pytest_configure(config):
    config.addinivalue_line("markers", "scenarios(*names): runs only in these molecule scenarios "
                                       "(default: two nodes, cluster-store; ha: three nodes; swarm: two nodes, swarm; "
                                       "scale: five nodes, cluster-store; scale-swarm: three swarm managers)")
    config.addinivalue_line("markers", "disruptive: restarts or powers off nodes; runs after every other test")
    config.addinivalue_line("markers", "last: the scenario's final proof; runs after the disruptive tests")


def pytest_sessionstart(session):
    start_run_log()


def _order(item):
    return (item.get_closest_marker("last") is not None, item.get_closest_marker("disruptive") is not None)


def pytest_collection_modifyitems(config, items):
    """Deselect (neither run nor counted) tests of other scenarios; disruptive tests, then the final proof, last."""
    here = scenario(INVENTORY.lab, lab_nodes()[0].backend(), len(INVENTORY.addresses))
    keep, drop = [], []
    for item in items:
        mark = item.get_closest_marker("scenarios")
        if mark and not set(mark.args) <= set(SCENARIOS):
            raise pytest.UsageError(f"{item.nodeid}: unknown scenario in {mark.args}")
        (keep if mark is None or here in mark.args else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = sorted(keep, key=_order)


@pytest.fixture(scope="session")
def inventory():
    return INVENTORY


@pytest.fixture(scope="session")
def nodes():
    return lab_nodes()


@pytest.fixture(scope="session")
def node1(nodes):
    return nodes[0]


@pytest.fixture(scope="session")
def node2(nodes):
    return nodes[1]


@pytest.fixture(scope="session")
def app_node(inventory):
    name = inventory.group("app")[0]
    return Node(name, inventory.addresses[name])


@pytest.fixture(scope="session")
def redis_node(inventory):
    name = inventory.group("redis")[0]
    return Node(name, inventory.addresses[name])


@pytest.fixture(scope="session")
def base_url(app_node):
    return f"http://{app_node.address}:5000"
