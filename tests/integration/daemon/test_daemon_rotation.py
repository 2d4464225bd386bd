"""Acceptance 5: once an agent's SVID rotates, the SDK's next token is bound to the new one."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from daemonkit import SEARCH, connect

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import thumbprint

pytestmark = pytest.mark.integration

ROTATING = "spiffe://example.org/agents/rotating"
GID = 1104
SCRIPT = Path(__file__).with_name("rotating_agent.py")


def _cnf(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["cnf"]["x5t#S256"])


def test_next_token_after_rotation_is_bound_to_the_new_svid(
    spire: SpireTestBed, daemon: DaemonProcess
) -> None:
    entry = spire.create_entry(ROTATING, uid=0, gid=GID, x509_svid_ttl=20)
    try:
        spire.wait_for_svid(ROTATING, uid=0, gid=GID)
        agent = spire.run(
            [sys.executable, str(SCRIPT), spire.agent.endpoint, str(daemon.socket), SEARCH],
            uid=0,
            gid=GID,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = agent.communicate(timeout=90)
    finally:
        spire.delete_entry(entry)
    assert agent.returncode == 0, err.decode()
    (before, old_leaf), (after, new_leaf) = [
        (line["token"], base64.b64decode(line["leaf"]))
        for line in map(json.loads, out.decode().splitlines())
    ]

    assert new_leaf != old_leaf
    assert _cnf(before) == thumbprint(x509.load_der_x509_certificate(old_leaf))
    assert _cnf(after) == thumbprint(x509.load_der_x509_certificate(new_leaf))
    with connect(daemon.socket) as stub:
        for token, expected in ((after, (True, "")), (before, (False, "binding_mismatch"))):
            request = pb.VerifyTokenRequest(
                token=token, audience=SEARCH, peer_certificates=[new_leaf]
            )
            answer = stub.VerifyToken(request, timeout=10)
            assert (answer.valid, answer.reason) == expected
