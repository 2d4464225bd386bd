"""What the fault suites share: a daemon of a suite's own, and a steady load of agents that
issue and verify while a fault is injected, tallying how every call ended.

A round is one issuance and one verification of the fresh token as its tool would (the
agent's certificate as the mTLS peer), plus one verification of each token held from before
the fault. Workers sign with whatever identity ``signer`` returns at that moment, so an agent
whose SVID rotates keeps presenting the certificate its token is bound to.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import grpc

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.agents import SEARCH, SEARCH_POLICY, chain_der
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import SigningIdentity, sign_request, thumbprint

AGENT = "spiffe://example.org/agents/fault"
OWN_CONNECTION = (("grpc.use_local_subchannel_pool", 1),)


def node(
    bed: SpireTestBed,
    gid: int,
    *,
    x509_svid_ttl: int = 300,
    extra_args: Sequence[str] = (),
    socket: Path | None = None,
) -> DaemonProcess:
    """A daemon attested as ``gid``, metrics on an ephemeral port; ``with`` starts it."""
    return DaemonProcess(
        bed,
        policy=SEARCH_POLICY,
        gid=gid,
        extra_args=("--metrics-address", "127.0.0.1:0", *extra_args),
        x509_svid_ttl=x509_svid_ttl,
        socket=socket,
    )


@dataclass(frozen=True)
class Held:
    """A token issued before the fault, and the certificate chain it is bound to."""

    token: str
    presenter: SigningIdentity


@dataclass
class Tally:
    issued: Counter[str] = field(default_factory=Counter)
    verified: Counter[str] = field(default_factory=Counter)
    agent_leaves: set[str] = field(default_factory=set)
    rounds: int = 0


class Load:
    """``workers`` threads, each on its own connection, until the context exits."""

    def __init__(
        self,
        daemon: DaemonProcess,
        signer: Callable[[], SigningIdentity],
        *,
        held: Sequence[Held] = (),
        workers: int = 3,
        deadline: float = 10.0,
    ) -> None:
        self._daemon, self._signer, self._held = daemon, signer, tuple(held)
        self._deadline = deadline
        self._tally = Tally()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, args=(n,), name=f"load-{n}", daemon=True)
            for n in range(workers)
        ]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._deadline * 3)

    def tally(self) -> Tally:
        with self._lock:
            t = self._tally
            return Tally(Counter(t.issued), Counter(t.verified), set(t.agent_leaves), t.rounds)

    def advance(self, rounds: int, *, timeout: float = 60.0) -> None:
        """Wait until ``rounds`` more rounds have completed, whatever their outcome."""
        target = self.tally().rounds + rounds
        wait_for(
            lambda: self.tally().rounds >= target,
            timeout=timeout,
            interval=0.1,
            what=f"{rounds} more rounds of load",
        )

    def _work(self, n: int) -> None:
        with grpc.insecure_channel(f"unix:{self._daemon.socket}", options=OWN_CONNECTION) as ch:
            stub = spiffebind_pb2_grpc.TokenServiceStub(ch)
            while not self._stop.is_set():
                issued, verified = self._round(stub, n)
                with self._lock:
                    self._tally.issued.update(issued)
                    self._tally.verified.update(verified)
                    self._tally.rounds += 1
                time.sleep(0.01)

    def _round(
        self, stub: spiffebind_pb2_grpc.TokenServiceStub, n: int
    ) -> tuple[list[str], list[str]]:
        verified = [self._verify(stub, h.token, h.presenter) for h in self._held]
        identity = self._signer()
        with self._lock:
            self._tally.agent_leaves.add(thumbprint(identity.chain[0]))
        params = {"op": "issue", "audience": SEARCH, "scope": "search:read", "txn": f"load-{n}"}
        proof = sign_request(
            identity, daemon_id=self._daemon.spiffe_id, params=params, now=time.time()
        )
        try:
            response = stub.IssueToken(
                pb.IssueTokenRequest(signed_request=proof), timeout=self._deadline
            )
        except grpc.RpcError as exc:
            return [exc.code().name], verified
        return ["OK"], [*verified, self._verify(stub, response.access_token, identity)]

    def _verify(
        self, stub: spiffebind_pb2_grpc.TokenServiceStub, token: str, presenter: SigningIdentity
    ) -> str:
        request = pb.VerifyTokenRequest(
            token=token, audience=SEARCH, peer_certificates=chain_der(presenter)
        )
        try:
            response = stub.VerifyToken(request, timeout=self._deadline)
        except grpc.RpcError as exc:
            return exc.code().name
        return "valid" if response.valid else response.reason
