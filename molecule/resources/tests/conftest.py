"""Fixtures of the molecule scenarios' tests: the lab's nodes, drawn from its inventory (labkit)."""

import pytest
from labkit import Inventory, Node, lab_nodes

INVENTORY = Inventory()


def pytest_configure(config):
    config.addinivalue_line("markers", "backend(name): runs only where the lab uses this overlay backend")
    config.addinivalue_line("markers", "lab(name): runs only on this lab (inventory/<name>)")
    config.addinivalue_line("markers", "disruptive: restarts or powers off nodes; runs after every other test")


def pytest_collection_modifyitems(config, items):
    """Deselect (neither run nor counted) tests written for another backend or lab; disruptive tests last."""
    here = {"backend": lab_nodes()[0].backend(), "lab": INVENTORY.lab}
    keep, drop = [], []
    for item in items:
        other = [m for kind in here for m in item.iter_markers(kind) if m.args[0] != here[kind]]
        (drop if other else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = sorted(keep, key=lambda item: item.get_closest_marker("disruptive") is not None)


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
