"""The fault suites run against SPIRE of their own: they stop its server, kill its agent and
register short-lived entries, none of which the integration session's bed should see.

Gids 1601-1699 belong to these suites: 1601 is the agent every suite signs as (hour-long
SVID, fetched once); each suite starts its daemon on a gid of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faultkit import AGENT

from spiffebind.testing.agents import Agent, agent, register_agents
from spiffebind.testing.spire import SpireTestBed


@pytest.fixture(scope="session")
def bed() -> Iterator[SpireTestBed]:
    with SpireTestBed.start() as spire:
        yield spire


@pytest.fixture(scope="session")
def signer(bed: SpireTestBed) -> Agent:
    register_agents(bed, {AGENT: 1601})
    return agent(bed, AGENT, 1601)
