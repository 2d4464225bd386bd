"""Workloads the ext_authz tests run as other gids (SPIRE attests them by gid).

``python workloads.py tokens SOCKET OUT_DIR``: as the agents' gid, write both agents' SVID
chains (PEM) and the tokens agent A gets from the daemon (one of them then revoked) as JSON.

``python workloads.py expired AGENT_PEM``: as the daemon's gid, print a token the daemon's own
SVID signed for that agent certificate, already expired: deterministic, no waiting.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from spiffe import WorkloadApiClient

from spiffebind.client import AgentClient
from spiffebind.client.credentials import StaticCredentials
from spiffebind.token import SigningIdentity, mint

AGENT_A = "spiffe://example.org/agents/ext-a"
AGENT_B = "spiffe://example.org/agents/ext-b"
SEARCH = "spiffe://example.org/tools/search"
SIGNER = "spiffe://example.org/spiffebind/node-1"


def _svids() -> dict[str, SigningIdentity]:
    with WorkloadApiClient(socket_path=os.environ["SPIFFE_ENDPOINT_SOCKET"]) as client:
        svids = client.fetch_x509_context().x509_svids
    return {str(s.spiffe_id): SigningIdentity(tuple(s.cert_chain), s.private_key) for s in svids}


def _pem(identity: SigningIdentity) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in identity.chain)


def tokens(socket: str, out: Path) -> None:
    svids = _svids()
    agent = svids[AGENT_A]
    with AgentClient(socket, credentials=StaticCredentials(agent)) as client:
        issued = {
            "read": client.token(SEARCH, ["search:read"], txn="ext-read"),
            "revoked": client.token(SEARCH, ["search:read"], txn="ext-revoked"),
            "invoke": client.token(
                SEARCH,
                ["search:read"],
                txn="ext-invoke",
                authorization_details=[{"type": "tool_invocation", "tool": "search"}],
            ),
        }
        client.revoke(txn="ext-revoked")
    material = {
        "a_pem": _pem(agent),
        "b_pem": _pem(svids[AGENT_B]),
        "tokens": {name: token.access_token for name, token in issued.items()},
    }
    (out / "material.json").write_text(json.dumps(material))


def expired(agent_pem: Path) -> None:
    signer = _svids()[SIGNER]
    agent = x509.load_pem_x509_certificates(agent_pem.read_bytes())[0]
    token = mint(
        signer,
        agent_cert=agent,
        audiences=[SEARCH],
        scopes=["search:read"],
        ttl=60,
        max_ttl=600,
        now=time.time() - 600,
        txn="ext-expired",
    )
    print(token.token)


if __name__ == "__main__":
    if sys.argv[1] == "tokens":
        tokens(sys.argv[2], Path(sys.argv[3]))
    else:
        expired(Path(sys.argv[2]))
