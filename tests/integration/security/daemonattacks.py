"""The attack corpus's world built from real SPIRE SVIDs, and how the daemon answers over its
socket.

Parties: the agent, a second pod of the agent (same SPIFFE ID, another key) and another
workload, all registered for gid 1151 with hour-long SVIDs. The issuer is the session
daemon itself: the test fetches the daemon's own SVID and key as the daemon's gid, so the
socket run can re-sign a daemon-issued token with one
change, as the in-process corpus does with its signer. Nobody here holds the trust domain's
CA key; cases that need it are skipped with that reason.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from cryptography import x509
from envoy.service.auth.v3 import external_auth_pb2_grpc

from spiffebind.api.socket import is_live
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.identity.pem import read_certificates
from spiffebind.testing.attacks import VALID, Attempt, Materials
from spiffebind.testing.attacks.envoy import answer_verdict, envoy_request
from spiffebind.testing.attacks.requests import ISSUE
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.forge import der
from spiffebind.testing.pki import Authority, Issued
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import SigningIdentity, sign_request

GID = 1151
AGENT = "spiffe://example.org/agents/sec-planner"
PEER = "spiffe://example.org/tools/sec-peer"
SEARCH = "spiffe://example.org/tools/search"
REASON = "spiffebind-reason"
SERVER_FAULTS = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)

Stub = spiffebind_pb2_grpc.TokenServiceStub
AuthzStub = external_auth_pb2_grpc.AuthorizationStub


@contextmanager
def connect(socket: Path) -> Iterator[Stub]:
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        yield spiffebind_pb2_grpc.TokenServiceStub(channel)


def _issued(identity: SigningIdentity) -> Issued:
    return Issued(identity.chain[0], identity.key, tuple(identity.chain[1:]))


def register_parties(spire: SpireTestBed) -> list[SigningIdentity]:
    """The agent twice (two entries, two keys) and a peer, as SPIRE serves them to gid 1151."""
    spire.create_entry(AGENT, uid=0, gid=GID, x509_svid_ttl=3600)
    spire.create_entry(AGENT, gid=GID, selectors=["unix:user:root"], x509_svid_ttl=3600)
    spire.create_entry(PEER, uid=0, gid=GID, x509_svid_ttl=3600)
    wait_for(lambda: len(_fetch(spire)) == 3, timeout=30, what="three SVIDs for gid 1151")
    return _fetch(spire)


def _fetch(spire: SpireTestBed) -> list[SigningIdentity]:
    """What gid 1151 gets now; none while SPIRE has not issued the first one yet."""
    try:
        return spire.agent.fetch_x509_svids(uid=0, gid=GID)
    except RuntimeError:
        return []


def real_materials(spire: SpireTestBed, daemon: DaemonProcess, stub: Stub) -> Materials:
    """Materials whose baseline is a token the daemon issued to the agent just now."""
    svids = register_parties(spire)
    agents = [s for s in svids if s.spiffe_id == AGENT]
    peer = next(s for s in svids if s.spiffe_id == PEER)
    signer = next(
        s
        for s in spire.agent.fetch_x509_svids(uid=0, gid=daemon.gid)
        if s.spiffe_id == daemon.spiffe_id
    )
    info = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    proof = sign_request(
        agents[0],
        daemon_id=info.spiffe_id,
        params={**_params(), "txn": "sec-corpus"},
        now=time.time(),
    )
    issued = stub.IssueToken(pb.IssueTokenRequest(signed_request=proof), timeout=10)
    return Materials(
        clock=time.time,
        audience=SEARCH,
        signer=_issued(signer),
        agent=_issued(agents[0]),
        sibling=_issued(agents[1]),
        peer=_issued(peer),
        anchor=_anchor(spire, agents[0].chain[-1]),
        claims=_claims(issued.access_token),
        rogue=Authority.root(spire.trust_domain),
        stranger=Authority.root("example.org.attacker.test"),
        jwt_svid=spire.agent.fetch_jwt_svid(SEARCH, uid=0, gid=GID),
        max_lifetime=info.max_ttl_seconds,
    )


def _params() -> dict[str, str]:
    return {"op": "issue", "audience": SEARCH, "scope": "search:read"}


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _anchor(spire: SpireTestBed, top: x509.Certificate) -> x509.Certificate:
    """The bundle root that issued the top of an SVID chain."""
    return next(c for c in read_certificates(spire.root / "bundle.pem") if c.subject == top.issuer)


def verify_verdict(stub: Stub, m: Materials, attempt: Attempt) -> str:
    """The daemon's VerifyToken answer (to the last send): ``valid`` or its reason code."""
    presented = (m.agent.cert,) if attempt.presented is None else attempt.presented
    request = pb.VerifyTokenRequest(
        token=attempt.token,
        audience=attempt.audience or m.audience,
        peer_certificates=[der(c) for c in presented],
        required_scopes=attempt.scopes,
    )
    d = attempt.dpop
    if d is not None:
        digest = d.body_sha256 or b""
        request.dpop.CopyFrom(
            pb.DpopProof(proof=d.proof, method=d.method, uri=d.uri, body_sha256=digest)
        )
    answers = [stub.VerifyToken(request, timeout=10) for _ in range(d.sends if d else 1)]
    return VALID if answers[-1].valid else str(answers[-1].reason)


@contextmanager
def authz_stub(socket: Path) -> Iterator[AuthzStub]:
    """Envoy's Authorization service on a daemon's ext_authz socket, once it answers."""
    wait_for(lambda: is_live(socket), timeout=15, what=f"ext_authz on {socket}")
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        yield AuthzStub(channel)


def check_verdict(stub: AuthzStub, m: Materials, attempt: Attempt) -> str:
    """ext_authz's answer (to the last send) as Envoy would ask: ``valid`` or its reason."""
    request = envoy_request(m, attempt)
    sends = attempt.dpop.sends if attempt.dpop else 1
    return [answer_verdict(stub.Check(request, timeout=10)) for _ in range(sends)][-1]


def status_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    """The status of a call and its ``spiffebind-reason`` (``valid`` when it succeeded)."""
    try:
        call()
    except grpc.RpcError as exc:
        trailing = dict(exc.trailing_metadata() or ())  # type: ignore[attr-defined]
        return exc.code(), str(trailing.get(REASON, exc.details()))  # type: ignore[attr-defined]
    return grpc.StatusCode.OK, VALID


def request_verdict(stub: Stub, rpc: str, proof: str) -> tuple[grpc.StatusCode, str]:
    """What IssueToken (or RevokeToken) says to ``proof``."""
    if rpc == ISSUE:
        return status_of(
            lambda: stub.IssueToken(pb.IssueTokenRequest(signed_request=proof), timeout=10)
        )
    return status_of(
        lambda: stub.RevokeToken(pb.RevokeTokenRequest(signed_request=proof), timeout=10)
    )
