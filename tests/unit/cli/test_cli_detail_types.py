"""``spiffebind verify --authorization-detail TYPE``: a missing type is insufficient_scope."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner

from spiffebind.cli.verify import verify
from spiffebind.testing.pki import Authority
from spiffebind.token import SigningIdentity, mint

AUD = "spiffe://example.org/tools/search"


def test_offline_verify_requires_each_detail_type(tmp_path: Path) -> None:
    root = Authority.root("example.org")
    signer = root.issue("spiffe://example.org/spiffebind/node-1")
    agent = root.issue("spiffe://example.org/agents/research")
    (tmp_path / "bundle.pem").write_bytes(root.bundle_pem)
    (tmp_path / "peer.pem").write_bytes(agent.chain_pem())
    token = mint(
        SigningIdentity(tuple(signer.chain), signer.key),
        agent_cert=agent.cert,
        audiences=[AUD],
        scopes=["search:read"],
        ttl=300,
        max_ttl=3600,
        now=time.time(),
        authorization_details=[{"type": "tool_invocation", "tool": "search"}],
    ).token
    common = [
        *("--offline", "--bundle", f"example.org={tmp_path / 'bundle.pem'}"),
        *("--issuer", "spiffe://example.org/spiffebind/*", "--audience", AUD),
        *("--peer-cert", str(tmp_path / "peer.pem"), "--json", token),
    ]
    ok = CliRunner().invoke(verify, [*common, "--authorization-detail", "tool_invocation"])
    assert ok.exit_code == 0, ok.output
    missing = CliRunner().invoke(verify, [*common, "--authorization-detail", "dataset"])
    assert missing.exit_code == 1
    assert json.loads(missing.stdout) == {"valid": False, "reason": "insufficient_scope"}
