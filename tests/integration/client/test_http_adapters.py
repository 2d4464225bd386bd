"""The HTTP adapters against real SPIRE and the session daemon: an agent calls the demo's
search tool over mTLS with httpx and requests, and the tool has the daemon verify every
token against the certificate on the connection (VerifyToken with the peer's chain)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509

from spiffebind.client.mtls import server_context
from spiffebind.demo.tool import DaemonVerifier, handler
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.svids import fetch_identity

pytestmark = pytest.mark.integration

TOOL = "spiffe://example.org/tools/search"
AGENT = "spiffe://example.org/agents/http-sdk"
AGENT_GID, TOOL_GID = 1701, 1702
SCRIPT = Path(__file__).with_name("http_agent.py")


@pytest.fixture(scope="module")
def tool_url(spire: SpireTestBed, daemon: DaemonProcess) -> Iterator[str]:
    """The demo's search tool, served from this process with an SVID fetched as its gid."""
    entry = spire.create_entry(TOOL, uid=0, gid=TOOL_GID)
    try:
        spire.wait_for_svid(TOOL, uid=0, gid=TOOL_GID)
        identity = fetch_identity(spire, TOOL_GID)
    finally:
        spire.delete_entry(entry)
    bundle = x509.load_pem_x509_certificates(spire.server.bundle_pem())
    verifier = DaemonVerifier(daemon.socket, audience=TOOL)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(verifier))
    server.daemon_threads = True
    server.socket = server_context(identity, bundle).wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/search"
    finally:
        server.shutdown()
        server.server_close()
        verifier.close()


def test_agent_calls_a_tool_with_httpx_and_requests_over_mtls(
    spire: SpireTestBed, daemon: DaemonProcess, tool_url: str
) -> None:
    # A short TTL, so the SVID rotates (at half-life) while the agent runs.
    entry = spire.create_entry(AGENT, uid=0, gid=AGENT_GID, x509_svid_ttl=20)
    try:
        spire.wait_for_svid(AGENT, uid=0, gid=AGENT_GID)
        agent = spire.run(
            [sys.executable, str(SCRIPT), str(daemon.socket), tool_url],
            uid=0,
            gid=AGENT_GID,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = agent.communicate(timeout=120)
    finally:
        spire.delete_entry(entry)
    assert agent.returncode == 0, err.decode()
    steps = {line["step"]: line for line in map(json.loads, out.decode().splitlines())}

    for step in ("httpx", "requests", "httpx-async", "requests-rotated"):
        assert (steps[step]["status"], steps[step]["history"]) == (200, []), steps[step]
        assert steps[step]["subject"] == AGENT
    retried = steps["httpx-revoked-behind-the-cache"]
    assert (retried["status"], retried["history"], retried["subject"]) == (200, [401], AGENT)
    rotated = steps["httpx-rotated"]
    assert rotated["old_x5t"] != rotated["new_x5t"] == rotated["bound_x5t"]
    assert (rotated["status"], rotated["history"]) == (200, [])
    assert steps["pinned-to-another-id"]["error"] == "PeerError"
    assert steps["task-revoked"] == {
        "step": "task-revoked",
        "error": "RequestRejected",
        "reason": "revoked",
    }
