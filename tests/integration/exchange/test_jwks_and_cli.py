"""A resource server that only knows JWKS verifies this node's tokens from /jwks.json; and
the `spiffebind exchange` command, run as the research agent's own process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from exchangeflow import TOOL, user_token
from exchangesetup import AGENT_GIDS, PLANNER_ID, RESEARCH_ID, SEARCH, Upstreams
from joserfc import jws
from joserfc.jwk import KeySet

from spiffebind.client import AgentClient
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.records import http_get
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.spire_processes import end_process

pytestmark = pytest.mark.integration


def _planner_token(agents: dict[str, AgentClient], upstreams: Upstreams, txn: str) -> str:
    hydra_token = user_token(upstreams.hydra, "search:read", "search:write")
    return (
        agents[PLANNER_ID]
        .exchange(hydra_token, SEARCH, txn=txn, authorization_details=[TOOL])
        .access_token
    )


def test_a_jwks_only_verifier_accepts_our_tokens(
    exchange_daemon: DaemonProcess, agents: dict[str, AgentClient], upstreams: Upstreams
) -> None:
    token = _planner_token(agents, upstreams, "jwks-1")
    status, body = http_get(exchange_daemon, "/jwks.json")
    assert status == 200
    document = json.loads(body)
    (key,) = document["keys"]
    assert {"kid", "alg", "use", "x5c"} <= key.keys()
    assert "d" not in key
    registry = jws.JWSRegistry(algorithms=[key["alg"]])
    registry.max_header_length = 8192  # our x5c header is far above joserfc's 512-byte default
    verified = jws.deserialize_compact(
        token, KeySet.import_key_set(document), algorithms=[key["alg"]], registry=registry
    )
    assert json.loads(verified.payload)["client_id"] == PLANNER_ID


def _spiffebind(
    spire: SpireTestBed, gid: int, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    """``python -m spiffebind.cli ARGS`` as the agent of ``gid``, its SVID from SPIRE."""
    proc = spire.run(
        [sys.executable, "-m", "spiffebind.cli", *args, "--workload-api", spire.agent.endpoint],
        uid=0,
        gid=gid,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        end_process(proc, 5)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_the_exchange_command_as_the_research_agent(
    spire: SpireTestBed,
    exchange_daemon: DaemonProcess,
    agents: dict[str, AgentClient],
    upstreams: Upstreams,
    tmp_path: Path,
) -> None:
    subject = tmp_path / "planner.jwt"
    subject.write_text(_planner_token(agents, upstreams, "cli-1") + "\n")
    common = ("--socket", str(exchange_daemon.socket), "--subject-token", f"@{subject}")
    gid = AGENT_GIDS[RESEARCH_ID]

    done = _spiffebind(
        spire, gid, "exchange", *common, "--audience", SEARCH, "--scope", "search:read", "--json"
    )
    assert done.returncode == 0, done.stderr.decode()
    body = json.loads(done.stdout)
    assert (body["scope"], body["txn"]) == ("search:read", "cli-1")
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"

    refused = _spiffebind(
        spire, gid, "exchange", *common, "--audience", SEARCH, "--scope", "admin", "--json"
    )
    assert refused.returncode == 1
    error = json.loads(refused.stdout)
    assert (error["error"], error["reason"]) == ("invalid_scope", "insufficient_scope")
    assert "not in the subject token" in error["error_description"]
    assert b"invalid_scope" in refused.stderr
