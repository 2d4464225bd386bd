"""spiffebind's API against the SPIRE agent's Workload API: same ghz, same kind of socket.

Rows (each at every concurrency, sides alternated in rounds so load changes hit both):

- verify: ``VerifyToken`` (token from ``IssueToken``, the agent's certificate as the
  presented peer, one required scope) against ``ValidateJWTSVID`` (an ES256 JWT-SVID of
  the same workload and audience). Both answer "is this token good for me?"; spiffebind
  also checks binding, presenter, revocation and policy, and answers from its signature
  cache after the first call, while SPIRE re-verifies the signature every call.
- issue: ``IssueToken`` with a fresh signed request per call (a proof is single-use, so
  ghz sends N distinct pre-signed proofs once each) against ``FetchJWTSVID`` for one
  SPIFFE ID and audience. spiffebind authenticates the request, applies policy, mints,
  signs and records a new token per call; the SPIRE agent attests the caller and returns
  the JWT-SVID it caches per audience (it mints one only when the cached one nears expiry).

The daemon's own decision counters are read before and after each spiffebind run: every
request ghz counted must show up there as an allow, or the row is marked unchecked.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from envoy.service.auth.v3 import external_auth_pb2 as authz
from google.protobuf import json_format

from bench import ghz as g
from bench.rig import AGENT_ID, AUDIENCE, Rig
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.client import AgentClient
from spiffebind.client.credentials import StaticCredentials
from spiffebind.testing.envoy import check_request
from spiffebind.token import sign_request

CONCURRENCY = (1, 8, 64)
ROUNDS = 2
SECONDS = 4.0
OWN_PROTO = (
    Path(__file__).resolve().parent.parent / "spiffebind" / "api" / "v1" / "spiffebind.proto"
)
VERIFY_METHOD = "spiffebind.v1.TokenService/VerifyToken"
CHECK_METHOD = "envoy.service.auth.v3.Authorization/Check"
VALIDATE_METHOD = "SpiffeWorkloadAPI/ValidateJWTSVID"
_SB_VERIFY = "_token_verifications_total{allow,}"
_SB_ISSUE = "_tokens_issued_total{allow,}"


def workload_proto() -> Path:
    """SPIFFE's workload.proto from the Go module cache (go-spiffe is there after the SPIRE
    build); read in place at run time, never copied into this tree."""
    cache = subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=False
    ).stdout.strip() or str(Path.home() / "go" / "pkg" / "mod")
    found = sorted(Path(cache, "github.com", "spiffe").glob("go-spiffe/v2@*/proto/spiffe/workload"))
    if not found:
        raise RuntimeError(f"no go-spiffe workload.proto under {cache}; run `make spire` first")
    return found[-1] / "workload.proto"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    """One server: how ghz calls it, its PID, and what was measured on it."""

    call: g.Call
    pid: int
    sample: g.Sample | None = None
    cpu_s: float = 0.0

    def measure(self, run: Callable[[], g.Sample]) -> None:
        before = _cpu_seconds(self.pid)
        sample = run()
        self.cpu_s += _cpu_seconds(self.pid) - before
        self.sample = sample if self.sample is None else self.sample + sample

    def summary(self) -> dict[str, Any]:
        assert self.sample is not None
        out = self.sample.summary()
        out["server_cpu_us_per_request"] = round(self.cpu_s / max(1, self.sample.requests) * 1e6)
        return out


def _row(ours: Side, spire: Side, checked: bool) -> dict[str, Any]:
    a, b = ours.summary(), spire.summary()
    return {
        "spiffebind": a,
        "spire": b,
        "rps_ratio": round(a["rps"] / b["rps"], 2) if b["rps"] else None,
        "p99_ratio": round(a["p99_ms"] / b["p99_ms"], 2) if b["p99_ms"] else None,
        "checked_by_daemon_counters": checked,
    }


class Comparison:
    def __init__(self, rig: Rig, ghz: Path) -> None:
        self.rig, self.ghz = rig, ghz
        proto = workload_proto()
        self._ours = g.Call(
            rig.daemon.socket, "", proto=OWN_PROTO, import_paths=(OWN_PROTO.parent,)
        )
        self._spire = g.Call(
            rig.agent_socket,
            "",
            proto=proto,
            import_paths=(proto.parent,),
            metadata={"workload.spiffe.io": "true"},
        )
        protoset = rig.bed.root / "envoy-authz.protoset"
        self._ext_authz = g.Call(
            rig.ext_authz_socket, "", protoset=g.write_protoset(authz.DESCRIPTOR, protoset)
        )

    def _sides(self, call: g.Call, ours: str, spire: str) -> tuple[Side, Side]:
        return (
            Side(replace(call, method=ours), self.rig.daemon_pid()),
            Side(replace(self._spire, method=spire), self.rig.agent_pid()),
        )

    def verify_request(self) -> pb.VerifyTokenRequest:
        """A real token from the daemon for the bench agent, and the agent's certificate."""
        credentials = StaticCredentials(self.rig.agent)
        with AgentClient(self.rig.daemon.socket, credentials=credentials) as agent:
            token = agent.token(AUDIENCE, ["search:read"], ttl=3600)
        return pb.VerifyTokenRequest(
            token=token.access_token,
            audience=AUDIENCE,
            peer_certificates=[self.rig.agent.chain[0].public_bytes(Encoding.DER)],
            required_scopes=["search:read"],
        )

    def _verify_data(self) -> str:
        """A VerifyTokenRequest as ghz's JSON."""
        request = self.verify_request()
        data = {
            "token": request.token,
            "audience": request.audience,
            "peer_certificates": [base64.b64encode(c).decode() for c in request.peer_certificates],
            "required_scopes": list(request.required_scopes),
        }
        return json.dumps(data)

    def verify(self) -> dict[str, Any]:
        return self._against_validation(self._ours, VERIFY_METHOD, self._verify_data())

    def ext_authz(self) -> dict[str, Any]:
        """Envoy's Check on the ext_authz socket, the request built as Envoy builds it: the
        same verification as VerifyToken, plus reading the HTTP request and Envoy's PEM."""
        request = check_request(
            path="/search/q",
            headers={"authorization": f"Bearer {self.verify_request().token}"},
            peer_pem=self.rig.agent.chain[0].public_bytes(Encoding.PEM),
            context_extensions={
                "spiffebind.audience": AUDIENCE,
                "spiffebind.scopes": "search:read",
                "spiffebind.tool": "search",
            },
        )
        data = json_format.MessageToJson(request)
        return self._against_validation(self._ext_authz, CHECK_METHOD, data)

    def single(self, which: str, seconds: float = SECONDS) -> g.Sample:
        """One client, one call at a time: ``verify`` (VerifyToken over the socket) or
        ``validate`` (SPIRE's ValidateJWTSVID), for the in-process verifier's comparison."""
        if which == "verify":
            data = self._verify_data()
            call = replace(self._ours, method=VERIFY_METHOD)
        else:
            data = json.dumps({"audience": AUDIENCE, "svid": self.rig.jwt_svid()})
            call = replace(self._spire, method=VALIDATE_METHOD)
        g.run(self.ghz, call, concurrency=1, data=data, seconds=1.0)
        return g.run(self.ghz, call, concurrency=1, data=data, seconds=seconds)

    def _against_validation(self, call: g.Call, method: str, data: str) -> dict[str, Any]:
        """``method`` with ``data`` against SPIRE's ValidateJWTSVID of the agent's JWT-SVID,
        at each concurrency; every answer must be an allow in the daemon's counters."""
        spire_data = json.dumps({"audience": AUDIENCE, "svid": self.rig.jwt_svid()})
        rows = {}
        for c in CONCURRENCY:
            ours, spire = self._sides(call, method, VALIDATE_METHOD)
            for side, body in ((ours, data), (spire, spire_data)):
                g.run(self.ghz, side.call, concurrency=c, data=body, seconds=1.0)
            before = self.rig.counters()
            for _ in range(ROUNDS):
                for side, body in ((ours, data), (spire, spire_data)):
                    side.measure(
                        partial(
                            g.run, self.ghz, side.call, concurrency=c, data=body, seconds=SECONDS
                        )
                    )
            rows[f"c{c}"] = _row(ours, spire, self._counted(before, _SB_VERIFY, ours))
        return rows

    def _proofs(self, count: int) -> bytes:
        identity, daemon_id, now = self.rig.agent, self.rig.daemon.spiffe_id, time.time()
        params = {"op": "issue", "audience": [AUDIENCE], "scope": "search:read", "ttl": 600}
        messages = [
            pb.IssueTokenRequest(
                signed_request=sign_request(identity, daemon_id=daemon_id, params=params, now=now)
            ).SerializeToString()
            for _ in range(count)
        ]
        return g.delimited(messages)

    def issue(self) -> dict[str, Any]:
        spire_data = json.dumps({"audience": [AUDIENCE], "spiffe_id": AGENT_ID})
        rows = {}
        for c in CONCURRENCY:
            ours, spire = self._sides(
                self._ours,
                "spiffebind.v1.TokenService/IssueToken",
                "SpiffeWorkloadAPI/FetchJWTSVID",
            )
            warm = max(100, 4 * c)
            rate = g.run(
                self.ghz, ours.call, concurrency=c, binary=self._proofs(warm), total=warm
            ).rps
            g.run(self.ghz, spire.call, concurrency=c, data=spire_data, seconds=1.0)
            count = int(min(20_000, max(200, rate * SECONDS)))
            before = self.rig.counters()
            for _ in range(ROUNDS):
                proofs = self._proofs(count)
                ours.measure(
                    partial(g.run, self.ghz, ours.call, concurrency=c, binary=proofs, total=count)
                )
                spire.measure(
                    partial(
                        g.run, self.ghz, spire.call, concurrency=c, data=spire_data, seconds=SECONDS
                    )
                )
            rows[f"c{c}"] = _row(ours, spire, self._counted(before, _SB_ISSUE, ours))
        return rows

    def _counted(self, before: dict[str, float], suffix: str, ours: Side) -> bool:
        """Every request ghz saw answered OK is an allow in the daemon's counters, no deny."""
        after = self.rig.counters()
        prefix = suffix.split("{", maxsplit=1)[0]
        allow = sum(after[k] - before.get(k, 0) for k in after if k.endswith(suffix))
        deny = sum(after[k] - before.get(k, 0) for k in after if prefix in k and "{deny," in k)
        assert ours.sample is not None
        return ours.sample.errors == 0 and deny == 0 and allow == len(ours.sample.latencies_ns)
