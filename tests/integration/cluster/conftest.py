"""A three-server NATS cluster and three cluster-mode daemons for the module, agents for the
session. Tests that stop NATS servers or daemons leave them running again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clusterkit import AGENT_GIDS, OWNER, STRANGER, Node, three_nodes

from spiffebind.testing.agents import Agent, agent, register_agents
from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="session")
def owner(spire: SpireTestBed) -> Agent:
    register_agents(spire, AGENT_GIDS)
    return agent(spire, OWNER, AGENT_GIDS[OWNER])


@pytest.fixture(scope="session")
def stranger(spire: SpireTestBed, owner: Agent) -> Agent:
    return agent(spire, STRANGER, AGENT_GIDS[STRANGER])


@pytest.fixture(scope="module")
def nats() -> Iterator[NatsCluster]:
    with NatsCluster.start(3) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def nodes(spire: SpireTestBed, nats: NatsCluster) -> Iterator[dict[str, Node]]:
    with three_nodes(spire, nats) as started:
        yield started
