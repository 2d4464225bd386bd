"""An agent process for the HTTP adapters' test: run as its own gid, it calls a tool over
mTLS with httpx (blocking and asyncio) and requests, its SVID from the Workload API.

Between calls it revokes its cached token behind the SDK's back (the tool must refuse it,
the adapter must retry with a fresh one), waits for its SVID to rotate (the next calls
must present the new certificate), and finally revokes the whole task. Prints one JSON
line per step. Usage: ``python http_agent.py DAEMON_SOCKET TOOL_URL``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import httpx
import requests

from spiffebind.client import AgentClient, AsyncAgentClient, SourceCredentials
from spiffebind.client.httpx_auth import (
    AsyncBoundTokenAuth,
    BoundTokenAuth,
    mtls_async_client,
    mtls_client,
)
from spiffebind.client.requests_auth import BoundTokenAuth as RequestsAuth
from spiffebind.client.requests_auth import mtls_session
from spiffebind.client.svid_tls import SvidTLS
from spiffebind.errors import SpiffebindError
from spiffebind.identity.workload_api import WorkloadApiSource
from spiffebind.token import thumbprint

TOOL = "spiffe://example.org/tools/search"
SCOPES = ["search:read"]
TXN = "http-adapters"
ROTATION_TIMEOUT = 60.0


def report(step: str, response: httpx.Response | requests.Response, **extra: Any) -> None:
    body = response.json()
    line = {
        "step": step,
        "status": response.status_code,
        "history": [r.status_code for r in response.history],
        "subject": body.get("verified", {}).get("subject"),
        "reason": body.get("reason"),
        **extra,
    }
    print(json.dumps(line), flush=True)


def failure(step: str, exc: SpiffebindError) -> None:
    reason = getattr(exc, "reason", None)
    print(json.dumps({"step": step, "error": type(exc).__name__, "reason": reason}), flush=True)


async def call_async(socket: str, credentials: SourceCredentials, tls: SvidTLS, url: str) -> None:
    async with (
        AsyncAgentClient(socket, credentials=credentials) as agent,
        mtls_async_client(tls, timeout=10) as http,
    ):
        auth = AsyncBoundTokenAuth(agent, TOOL, SCOPES, txn=TXN, proof="mtls")
        report("httpx-async", await http.get(url, params={"q": "async"}, auth=auth))


def main(socket: str, url: str) -> None:
    with WorkloadApiSource(os.environ["SPIFFE_ENDPOINT_SOCKET"]) as source:
        source.wait_ready(30)
        me = SourceCredentials(source)
        tls = SvidTLS(me, lambda: source.bundles()["example.org"], TOOL)
        with (
            AgentClient(socket, credentials=me) as agent,
            mtls_client(tls, timeout=10) as http,
            mtls_session(tls, auth=RequestsAuth(agent, TOOL, SCOPES, txn=TXN)) as session,
        ):
            auth = BoundTokenAuth(agent, TOOL, SCOPES, txn=TXN, proof="mtls")
            report("httpx", http.get(url, params={"q": "sync"}, auth=auth))
            with AgentClient(socket, credentials=me) as elsewhere:
                elsewhere.revoke(jti=agent.token(TOOL, SCOPES, txn=TXN).jti)
            report("httpx-revoked-behind-the-cache", http.get(url, auth=auth))
            report("requests", session.get(url, timeout=10))
            asyncio.run(call_async(socket, me, tls, url))
            wrong = SvidTLS(me, lambda: source.bundles()["example.org"], TOOL + "-impostor")
            with mtls_client(wrong, timeout=10) as pinned:
                try:
                    pinned.get(url, auth=auth)
                except SpiffebindError as exc:
                    failure("pinned-to-another-id", exc)

            held = source.current().chain[0]
            deadline = time.monotonic() + ROTATION_TIMEOUT
            while source.current().chain[0] == held:
                if time.monotonic() > deadline:
                    sys.exit("the SVID did not rotate")
                time.sleep(0.1)
            leaves = {"old_x5t": thumbprint(held), "new_x5t": thumbprint(source.current().chain[0])}
            response = http.get(url, auth=auth)
            bound = agent.token(TOOL, SCOPES, txn=TXN).bound_x5t
            report("httpx-rotated", response, bound_x5t=bound, **leaves)
            report("requests-rotated", session.get(url, timeout=10))

            agent.revoke(txn=TXN)
            try:
                http.get(url, auth=auth)
            except SpiffebindError as exc:
                failure("task-revoked", exc)


if __name__ == "__main__":
    main(*sys.argv[1:3])
