"""The daemon's TokenServicer, wired by spiffebind.wiring as the daemon wires it, in-process.

Real policy file, revocation store, ledger, replay cache, audit log and metrics in a temp
dir; the identity is the in-process world's signer, and every clock reads the world's
fixed now. A call returns the gRPC status the servicer chose; any other exception escapes,
which is what a real server would report as UNKNOWN.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message
from prometheus_client import CollectorRegistry

from spiffebind.api.servicer import TokenServicer
from spiffebind.config import DaemonConfig
from spiffebind.identity.source import BaseSource, Identity
from spiffebind.observe.audit import AuditLog
from spiffebind.observe.decisions import Decisions
from spiffebind.observe.metrics import Metrics
from spiffebind.service.live_policy import LivePolicy
from spiffebind.state import IssuedLedger, RevocationStore
from spiffebind.testing.attacks import InProcess
from spiffebind.testing.attacks.worlds import POLICY
from spiffebind.testing.clock import ManualClock
from spiffebind.token import ReplayCache
from spiffebind.wiring import build_parts


class Aborted(Exception):
    """What ``context.abort`` raises in a real server, with the status it carries."""

    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code)
        self.code = code


class Context:
    """The two things the servicer asks of its gRPC context."""

    def set_trailing_metadata(self, metadata: Any) -> None:
        self.trailing = metadata

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise Aborted(code)


class HeldIdentity(BaseSource):
    """An identity source holding one fixed SVID; nothing to start or stop."""

    def __init__(self, identity: Identity, clock: ManualClock) -> None:
        super().__init__(clock)
        self._publish(identity)

    def start(self) -> None:
        """Nothing arrives later: the identity was published at construction."""

    def close(self) -> None:
        """Nothing was opened."""


class Rig:
    def __init__(self, servicer: TokenServicer) -> None:
        self.servicer = servicer

    def call(self, method: str, request: message.Message) -> grpc.StatusCode:
        return self.answer(method, request)[0]

    def answer(
        self, method: str, request: message.Message
    ) -> tuple[grpc.StatusCode, message.Message | None]:
        """The status, and the response when the call succeeded."""

        async def once() -> tuple[grpc.StatusCode, message.Message | None]:
            try:
                response = await _first(getattr(self.servicer, method)(request, Context()))
            except Aborted as exc:
                return exc.code, None
            return grpc.StatusCode.OK, response

        return asyncio.run(once())


async def _first(answer: Any) -> Any:
    """A unary answer, or the first message of a stream (which is then closed)."""
    if not inspect.isasyncgen(answer):
        return await answer
    try:
        return await anext(answer)
    finally:
        await answer.aclose()


@contextmanager
def servicer_rig(world: InProcess, **settings: Any) -> Iterator[Rig]:
    """``settings`` are further DaemonConfig fields (e.g. ``dpop_require_nonce=True``)."""
    root = Path(tempfile.mkdtemp(prefix="sbr", dir="/tmp"))
    m = world.materials
    clock = ManualClock(m.now)
    (root / "policy.yaml").write_text(POLICY)
    config = DaemonConfig(policy=root / "policy.yaml", state_dir=root / "state", **settings)
    identity = Identity(
        tuple(m.signer.chain), m.signer.key, {td: tuple(c) for td, c in world.bundles.items()}
    )
    policy = LivePolicy(config.policy, config.max_ttl)
    revocations = RevocationStore.open(config.state_dir)
    ledger = IssuedLedger.open(config.state_dir)
    audit = AuditLog.open(str(root / "audit.log"), clock=clock)
    try:
        parts = build_parts(
            config,
            me=identity,
            identity=HeldIdentity(identity, clock),
            policy=policy,
            revocations=revocations,
            ledger=ledger,
            replay=ReplayCache(),
            dpop_replay=ReplayCache(),
            decisions=Decisions(Metrics(CollectorRegistry()), audit, lambda: policy.policy.digest),
            clock=clock,
            readiness=lambda: (True, ""),
        )
        yield Rig(parts.servicer)
    finally:
        audit.close()
        ledger.close()
        revocations.close()
        shutil.rmtree(root, ignore_errors=True)
