"""An agent process for the rotation test: run as its own gid, it asks for the same token
before and after its SVID rotates, following the Workload API through the SDK.

Prints one JSON line per token: the token and the DER (base64) of the leaf held then.
Usage: ``python rotating_agent.py WORKLOAD_API_ENDPOINT DAEMON_SOCKET AUDIENCE``.
"""

from __future__ import annotations

import base64
import json
import sys
import time

from cryptography.hazmat.primitives import serialization

from spiffebind.client import AgentClient, BoundToken, SourceCredentials
from spiffebind.identity.source import Identity
from spiffebind.identity.workload_api import WorkloadApiSource

ROTATION_TIMEOUT = 60.0


def _line(token: BoundToken, identity: Identity) -> str:
    der = identity.chain[0].public_bytes(serialization.Encoding.DER)
    return json.dumps({"token": token.access_token, "leaf": base64.b64encode(der).decode()})


def main(endpoint: str, socket: str, audience: str) -> None:
    with WorkloadApiSource(endpoint) as source:
        first = source.wait_ready(30)
        with AgentClient(socket, credentials=SourceCredentials(source)) as agent:
            before = agent.token(audience, ["search:read"], txn="rotation")
            deadline = time.monotonic() + ROTATION_TIMEOUT
            while source.current().chain[0] == first.chain[0]:
                if time.monotonic() > deadline:
                    sys.exit("the SVID did not rotate")
                time.sleep(0.1)
            rotated = source.current()
            after = agent.token(audience, ["search:read"], txn="rotation")
    print(_line(before, first))
    print(_line(after, rotated))


if __name__ == "__main__":
    main(*sys.argv[1:4])
