"""Acceptance 8: hostile or broken input gets a clean answer (INVALID_ARGUMENT,
RESOURCE_EXHAUSTED, or valid=false with a reason; never INTERNAL or UNKNOWN), and the
daemon keeps serving everyone else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from daemonkit import SEARCH, Agent, Agents, connect, issue, verify

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.daemon import DaemonProcess

pytestmark = pytest.mark.integration

SERVICE = "/spiffebind.v1.TokenService/"
UNKNOWN_FIELDS = b"\xb8\x06\x07" + b"\xc2\x06\x03abc"  # field 103 varint 7, field 104 "abc"


@dataclass(frozen=True)
class World:
    channel: grpc.Channel
    daemon: DaemonProcess
    agent: Agent
    token: str

    def verify_request(self, **fields: Any) -> bytes:
        base: dict[str, Any] = {
            "token": self.token,
            "audience": SEARCH,
            "peer_certificates": self.agent.chain_der,
        }
        return pb.VerifyTokenRequest(**{**base, **fields}).SerializeToString()

    def issue_request(self, **params: Any) -> bytes:
        proof = self.agent.issue_proof(self.daemon.spiffe_id, "bad-input", **params)
        return pb.IssueTokenRequest(signed_request=proof).SerializeToString()

    def outcome(self, method: str, raw: bytes) -> str:
        """The status name of a failed call, or what a VerifyToken answer said."""
        call = self.channel.unary_unary(SERVICE + method, None, None)
        try:
            answer = call(raw, timeout=30)
        except grpc.RpcError as exc:
            return str(exc.code().name)
        if method != "VerifyToken":
            return "OK"
        verified = pb.VerifyTokenResponse.FromString(answer)
        return "valid" if verified.valid else f"invalid:{verified.reason}"


Case = Callable[[World], str]
CASES: dict[str, tuple[Case, str]] = {
    "message-over-64k": (
        lambda w: w.outcome(
            "IssueToken", pb.IssueTokenRequest(signed_request="e" * 70_000).SerializeToString()
        ),
        "RESOURCE_EXHAUSTED",
    ),
    "certificate-of-10mb": (
        lambda w: w.outcome("VerifyToken", w.verify_request(peer_certificates=[b"0" * (10 << 20)])),
        "RESOURCE_EXHAUSTED",
    ),
    "garbage-bytes-verify": (lambda w: w.outcome("VerifyToken", b"\xff" * 32), "INVALID_ARGUMENT"),
    "garbage-bytes-issue": (lambda w: w.outcome("IssueToken", b"\x0a\xff\xff"), "INVALID_ARGUMENT"),
    "string-field-not-utf8": (
        lambda w: w.outcome("VerifyToken", b"\x0a\x02\xff\xfe"),
        "INVALID_ARGUMENT",
    ),
    "unknown-fields-ignored": (
        lambda w: w.outcome("VerifyToken", w.verify_request() + UNKNOWN_FIELDS),
        "valid",
    ),
    "unknown-fields-issue-ignored": (
        lambda w: w.outcome("IssueToken", w.issue_request() + UNKNOWN_FIELDS),
        "OK",
    ),
    "empty-audience-issue": (
        lambda w: w.outcome("IssueToken", w.issue_request(audience="")),
        "INVALID_ARGUMENT",
    ),
    "empty-audience-verify": (
        lambda w: w.outcome("VerifyToken", w.verify_request(audience="")),
        "INVALID_ARGUMENT",
    ),
    "proof-not-a-jws": (
        lambda w: w.outcome(
            "IssueToken", pb.IssueTokenRequest(signed_request="not.a.jws").SerializeToString()
        ),
        "INVALID_ARGUMENT",
    ),
    "token-not-a-jws": (
        lambda w: w.outcome("VerifyToken", w.verify_request(token="\x00" * 9000)),
        "invalid:malformed",
    ),
    "certificate-not-der": (
        lambda w: w.outcome("VerifyToken", w.verify_request(peer_certificates=[b"x" * 60_000])),
        "invalid:presenter_mismatch",
    ),
}


@pytest.fixture(scope="module")
def world(daemon: DaemonProcess, agents: Agents) -> Iterator[World]:
    with connect(daemon.socket) as stub, grpc.insecure_channel(f"unix:{daemon.socket}") as raw:
        token = issue(stub, agents.a.issue_proof(daemon.spiffe_id, "bad-input-good")).access_token
        yield World(raw, daemon, agents.a, token)


@pytest.mark.parametrize("defect", CASES)
def test_clean_answer_and_still_serving(defect: str, world: World, agents: Agents) -> None:
    case, expected = CASES[defect]
    logged = len(world.daemon.log())

    assert case(world) == expected

    assert "Traceback" not in world.daemon.log()[logged:]
    assert world.daemon.proc is not None
    assert world.daemon.proc.poll() is None
    with connect(world.daemon.socket) as stub:
        assert verify(stub, world.token, presenter=agents.a).valid
