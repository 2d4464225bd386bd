"""spiffebind's API against the SPIRE agent's Workload API: same ghz, same kind of socket.

Closed-loop rows, each at every concurrency in ``ROUNDS`` alternating rounds (the side that
goes first alternates too, so a change in the machine's load hits both); a row reports the
pooled latencies, the median of the per-round throughput and CPU ratios, and their spread:

- transport: the daemon's gRPC health ``Check`` (through the same admission and timing layers
  as every call, no decision) against ``ValidateJWTSVID``: what a call costs the daemon before
  any of spiffebind's own work, the floor under every other row.
- verify: ``VerifyToken`` of one repeated token (from ``IssueToken``, the agent's certificate
  as the presented peer, one required scope) against ``ValidateJWTSVID`` (an ES256 JWT-SVID
  of the same workload and audience). Both answer "is this token good for me?"; spiffebind
  also checks binding, presenter, revocation and policy. **Uses the signature cache**: after
  the first call spiffebind answers the signature and claims from its cache, while SPIRE
  re-verifies the signature on every call.
- verify_distinct: ``VerifyToken`` over ``DISTINCT`` different tokens sent round-robin (each
  at most once a round at these rates), so every call checks a signature as SPIRE does; the
  signer's and presenter's chains are known (chain cache hits), as on any busy node.
- ext_authz: Envoy's ``Check`` on the ext_authz socket with the repeated token (signature
  cache, like verify) against ``ValidateJWTSVID``.
- issue: ``IssueToken`` with a fresh signed request per call (a proof is single-use, so
  ghz sends N distinct pre-signed proofs once each) against ``FetchJWTSVID`` for one
  SPIFFE ID and audience. spiffebind authenticates the request, applies policy, mints,
  signs and records a new token per call; the SPIRE agent attests the caller and returns
  the JWT-SVID it caches per audience (it mints one only when the cached one nears expiry).

Open-loop rows: ghz sends at a fixed rate (``RATES``) whatever the answers' latency, for
``VerifyToken`` and ``Check`` (repeated token) and ``ValidateJWTSVID``, in alternating rounds;
p50/p99/p99.9 of the pooled latencies and the rate achieved (below the target when the
server, or ghz's ``OPEN_LOOP_CONCURRENCY`` workers, could not keep up).

The daemon's own decision counters are read before and after each spiffebind run: every
request ghz counted must show up there as an allow, or the row is marked unchecked.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from envoy.service.auth.v3 import external_auth_pb2 as authz
from google.protobuf import json_format
from grpc_health.v1 import health_pb2

from bench import ghz as g
from bench.rig import AGENT_ID, AUDIENCE, Rig
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.client import AgentClient
from spiffebind.client.credentials import StaticCredentials
from spiffebind.testing.envoy import check_request
from spiffebind.token import mint, sign_request

CONCURRENCY = (1, 8, 64)
ROUNDS = 3
SECONDS = 3.0
RATES = (250, 500, 1000)
OPEN_LOOP_SECONDS = 3.0
OPEN_LOOP_CONCURRENCY = 64
DISTINCT = 10_000
OWN_PROTO = (
    Path(__file__).resolve().parent.parent / "spiffebind" / "api" / "v1" / "spiffebind.proto"
)
VERIFY_METHOD = "spiffebind.v1.TokenService/VerifyToken"
ISSUE_METHOD = "spiffebind.v1.TokenService/IssueToken"
CHECK_METHOD = "envoy.service.auth.v3.Authorization/Check"
VALIDATE_METHOD = "SpiffeWorkloadAPI/ValidateJWTSVID"
HEALTH_METHOD = "grpc.health.v1.Health/Check"
FETCH_METHOD = "SpiffeWorkloadAPI/FetchJWTSVID"
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
    """One server: how ghz calls it, its PID, and what each round measured on it."""

    call: g.Call
    pid: int
    rounds: list[tuple[g.Sample, float]] = field(default_factory=list)  # (sample, CPU s)

    def measure(self, run: Callable[[], g.Sample]) -> None:
        before = _cpu_seconds(self.pid)
        sample = run()
        self.rounds.append((sample, _cpu_seconds(self.pid) - before))

    @property
    def sample(self) -> g.Sample:
        return functools.reduce(operator.add, (s for s, _ in self.rounds))

    def cpu_us(self, index: int | None = None) -> float:
        """Server CPU µs per request, in round ``index`` or over all rounds."""
        chosen = self.rounds if index is None else [self.rounds[index]]
        requests = sum(s.requests for s, _ in chosen)
        return sum(cpu for _, cpu in chosen) / max(1, requests) * 1e6

    def summary(self) -> dict[str, Any]:
        out = self.sample.summary()
        out["server_cpu_us_per_request"] = round(self.cpu_us())
        return out


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Median of per-round values, their range, and the range as a share of the median."""
    median = statistics.median(values)
    low, high = min(values), max(values)
    return {
        "median": round(median, 2),
        "min": round(low, 2),
        "max": round(high, 2),
        "spread_pct": round(100 * (high - low) / median, 1) if median else None,
        "rounds": [round(v, 3) for v in values],
    }


def _row(ours: Side, spire: Side, checked: bool) -> dict[str, Any]:
    rounds = range(len(ours.rounds))
    return {
        "spiffebind": ours.summary(),
        "spire": spire.summary(),
        "rps_ratio": spread([ours.rounds[i][0].rps / spire.rounds[i][0].rps for i in rounds]),
        "cpu_ratio": spread([ours.cpu_us(i) / spire.cpu_us(i) for i in rounds]),
        "p99_ratio": spread(
            [
                _p99(ours.rounds[i][0]) / _p99(spire.rounds[i][0])
                for i in rounds
                if _p99(spire.rounds[i][0])
            ]
            or [math.nan]
        ),
        "checked_by_daemon_counters": checked,
    }


def _p99(sample: g.Sample) -> float:
    return float(sample.summary()["p99_ms"])


def _alternate(pairs: Sequence[tuple[Side, Callable[[], g.Sample]]], rounds: int) -> None:
    """Measure each side once a round, the order rotating from round to round."""
    for r in range(rounds):
        shift = r % len(pairs)
        for side, run in [*pairs[shift:], *pairs[:shift]]:
            side.measure(run)


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
        protoset = rig.bed.root / "health.protoset"
        self._health = g.Call(
            rig.daemon.socket, "", protoset=g.write_protoset(health_pb2.DESCRIPTOR, protoset)
        )

    def call(self, method: str) -> g.Call:
        """How ghz calls ``method`` (one of the ``*_METHOD`` names) on its server."""
        if method == CHECK_METHOD:
            return replace(self._ext_authz, method=method)
        if method == HEALTH_METHOD:
            return replace(self._health, method=method)
        if method.startswith("spiffebind."):
            return replace(self._ours, method=method)
        return replace(self._spire, method=method)

    def side(self, method: str) -> Side:
        pid = self.rig.agent_pid() if method.startswith("Spiffe") else self.rig.daemon_pid()
        return Side(self.call(method), pid)

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

    def verify_data(self) -> str:
        """ghz's JSON for one VerifyToken of a token the daemon issued."""
        return json_format.MessageToJson(self.verify_request())

    def check_data(self) -> str:
        """ghz's JSON for Envoy's Check, built as Envoy builds it: the same verification as
        VerifyToken, plus reading the HTTP request and Envoy's PEM."""
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
        return str(json_format.MessageToJson(request))

    def validate_data(self) -> str:
        return json.dumps({"audience": AUDIENCE, "svid": self.rig.jwt_svid()})

    def transport(self) -> dict[str, Any]:
        return self._against_validation(HEALTH_METHOD, {"data": "{}"}, decisions=None)

    def verify(self) -> dict[str, Any]:
        data = self.verify_data()
        return self._against_validation(VERIFY_METHOD, {"data": data})

    def verify_distinct(self) -> dict[str, Any]:
        binary = verify_messages(self.rig, distinct_tokens(self.rig, DISTINCT))
        return self._against_validation(VERIFY_METHOD, {"binary": binary})

    def ext_authz(self) -> dict[str, Any]:
        data = self.check_data()
        return self._against_validation(CHECK_METHOD, {"data": data})

    def single(self, which: str, seconds: float = SECONDS) -> g.Sample:
        """One client, one call at a time: ``verify`` (VerifyToken over the socket) or
        ``validate`` (SPIRE's ValidateJWTSVID), for the in-process verifier's comparison."""
        if which == "verify":
            data, call = self.verify_data(), self.call(VERIFY_METHOD)
        else:
            data, call = self.validate_data(), self.call(VALIDATE_METHOD)
        g.run(self.ghz, call, concurrency=1, data=data, seconds=1.0)
        return g.run(self.ghz, call, concurrency=1, data=data, seconds=seconds)

    def _against_validation(
        self, method: str, body: dict[str, Any], decisions: str | None = _SB_VERIFY
    ) -> dict[str, Any]:
        """``method`` against SPIRE's ValidateJWTSVID of the agent's JWT-SVID at each
        concurrency; every answer must be an allow in the daemon's ``decisions`` counter
        (None: a call that decides nothing, which must simply succeed)."""
        spire_data = self.validate_data()
        rows = {}
        for c in CONCURRENCY:
            ours, spire = self.side(method), self.side(VALIDATE_METHOD)
            runs = (
                (ours, partial(g.run, self.ghz, ours.call, concurrency=c, **body)),
                (spire, partial(g.run, self.ghz, spire.call, concurrency=c, data=spire_data)),
            )
            for _, run in runs:
                run(seconds=1.0)
            before = self.rig.counters()
            _alternate([(side, partial(run, seconds=SECONDS)) for side, run in runs], ROUNDS)
            checked = (
                ours.sample.errors == 0
                if decisions is None
                else self._counted(before, decisions, ours)
            )
            rows[f"c{c}"] = _row(ours, spire, checked)
        return rows

    def proofs(self, count: int) -> bytes:
        """ghz's binary input: ``count`` IssueToken requests, each with its own fresh proof."""
        identity, daemon_id, now = self.rig.agent, self.rig.daemon.spiffe_id, time.time()
        params = {"op": "issue", "audience": [AUDIENCE], "scope": "search:read", "ttl": 600}
        messages = [
            pb.IssueTokenRequest(
                signed_request=sign_request(identity, daemon_id=daemon_id, params=params, now=now)
            ).SerializeToString()
            for _ in range(count)
        ]
        return g.delimited(messages)

    def issue_run(self, call: g.Call, concurrency: int, count: int) -> g.Sample:
        """``count`` IssueToken calls, each with its own fresh proof (signed just before)."""
        proofs = self.proofs(count)
        return g.run(self.ghz, call, concurrency=concurrency, binary=proofs, total=count)

    def issue(self) -> dict[str, Any]:
        spire_data = json.dumps({"audience": [AUDIENCE], "spiffe_id": AGENT_ID})
        rows = {}
        for c in CONCURRENCY:
            ours, spire = self.side(ISSUE_METHOD), self.side(FETCH_METHOD)
            warm = max(100, 4 * c)
            rate = self.issue_run(ours.call, c, warm).rps
            g.run(self.ghz, spire.call, concurrency=c, data=spire_data, seconds=1.0)
            count = int(min(20_000, max(200, rate * SECONDS)))
            before = self.rig.counters()
            _alternate(
                [
                    (ours, partial(self.issue_run, ours.call, c, count)),
                    (
                        spire,
                        partial(
                            g.run,
                            self.ghz,
                            spire.call,
                            concurrency=c,
                            data=spire_data,
                            seconds=SECONDS,
                        ),
                    ),
                ],
                ROUNDS,
            )
            rows[f"c{c}"] = _row(ours, spire, self._counted(before, _SB_ISSUE, ours))
        return rows

    def open_loop(self) -> dict[str, Any]:
        """Latency at fixed request rates: VerifyToken, Check, ValidateJWTSVID, alternating."""
        bodies = {
            VERIFY_METHOD: self.verify_data(),
            CHECK_METHOD: self.check_data(),
            VALIDATE_METHOD: self.validate_data(),
        }
        rows: dict[str, Any] = {}
        for rate in RATES:
            sides = {method: self.side(method) for method in bodies}
            _alternate(
                [
                    (
                        sides[method],
                        partial(
                            g.run,
                            self.ghz,
                            sides[method].call,
                            concurrency=OPEN_LOOP_CONCURRENCY,
                            data=data,
                            seconds=OPEN_LOOP_SECONDS,
                            rps=rate,
                        ),
                    )
                    for method, data in bodies.items()
                ],
                ROUNDS,
            )
            rows[f"{rate}rps"] = {
                method.rsplit("/", 1)[1]: side.summary() for method, side in sides.items()
            }
        return rows

    def _counted(self, before: dict[str, float], suffix: str, ours: Side) -> bool:
        """Every request ghz saw answered OK is an allow in the daemon's counters, no deny."""
        after = self.rig.counters()
        prefix = suffix.split("{", maxsplit=1)[0]
        allow = sum(after[k] - before.get(k, 0) for k in after if k.endswith(suffix))
        deny = sum(after[k] - before.get(k, 0) for k in after if prefix in k and "{deny," in k)
        sample = ours.sample
        return sample.errors == 0 and deny == 0 and allow == len(sample.latencies_ns)


def distinct_tokens(rig: Rig, count: int) -> list[str]:
    """``count`` tokens for the bench agent, minted in this process with the SVID of
    ``spiffebind/node-2``, which the daemon accepts as an issuer, as it would accept another
    node's tokens; minting many through ``IssueToken`` would measure issuance instead."""
    now = time.time()
    return [
        mint(
            rig.node2,
            agent_cert=rig.agent.chain[0],
            audiences=[AUDIENCE],
            scopes=["search:read"],
            ttl=3600,
            max_ttl=3600,
            now=now,
        ).token
        for _ in range(count)
    ]


def verify_messages(rig: Rig, tokens: Sequence[str]) -> bytes:
    """ghz's binary input: one VerifyToken per token, presented by the bench agent."""
    peer = rig.agent.chain[0].public_bytes(Encoding.DER)
    return g.delimited(
        [
            pb.VerifyTokenRequest(
                token=token,
                audience=AUDIENCE,
                peer_certificates=[peer],
                required_scopes=["search:read"],
            ).SerializeToString()
            for token in tokens
        ]
    )
