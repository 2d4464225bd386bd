"""A daemon that answers but refuses is exit 1, whatever its reason (cli.md); only no daemon
answering at all is exit 2."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner

from spiffebind.api.errors import Context, translated
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.cli.main import main
from spiffebind.errors import AuditError, IdentityError, SpiffebindError, StateError
from spiffebind.testing.pki import Authority

DAEMON_ID = "spiffe://example.org/spiffebind/node-1"


class _Refusing(spiffebind_pb2_grpc.TokenServiceServicer):
    """A daemon that knows who it is and refuses every issuance with one of our errors."""

    def __init__(self, refusal: SpiffebindError) -> None:
        self.refusal = refusal

    @translated
    async def GetInfo(self, request: pb.GetInfoRequest, context: Context) -> pb.GetInfoResponse:
        return pb.GetInfoResponse(spiffe_id=DAEMON_ID)

    @translated
    async def IssueToken(
        self, request: pb.IssueTokenRequest, context: Context
    ) -> pb.IssueTokenResponse:
        raise self.refusal


class _Daemon:
    """The refusing servicer on a Unix socket, served from its own thread and event loop."""

    def __init__(self, path: Path, refusal: SpiffebindError) -> None:
        self.path = path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: grpc.aio.Server = self._run(self._start(refusal))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _start(self, refusal: SpiffebindError) -> grpc.aio.Server:
        server = grpc.aio.server()
        refusing = _Refusing(refusal)  # type: ignore[abstract]  # only these two are called
        spiffebind_pb2_grpc.add_TokenServiceServicer_to_server(refusing, server)
        server.add_insecure_port(f"unix:{self.path}")
        await server.start()
        return server

    def close(self) -> None:
        self._run(self._server.stop(None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


@pytest.fixture
def tmp() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sbr", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _token(tmp: Path, socket: Path) -> tuple[int, str]:
    agent = Authority.root().issue("spiffe://example.org/agents/research")
    (tmp / "svid.pem").write_bytes(agent.chain_pem())
    (tmp / "key.pem").write_bytes(agent.key_pem())
    args = ["token", "--socket", str(socket), "--audience", "spiffe://example.org/tools/search"]
    args += ["--svid", str(tmp / "svid.pem"), "--svid-key", str(tmp / "key.pem")]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("refusal", "said"),
    [
        (AuditError("audit log refused the line"), "daemon could not audit it"),
        (IdentityError("no X.509-SVID yet"), "daemon not ready"),
        (StateError("ledger.db: disk full"), "daemon could not record it"),
    ],
    ids=["audit", "identity", "state"],
)
def test_a_refusing_daemon_is_exit_1(tmp: Path, refusal: SpiffebindError, said: str) -> None:
    daemon = _Daemon(tmp / "api.sock", refusal)
    try:
        code, stderr = _token(tmp, daemon.path)
    finally:
        daemon.close()

    assert (code, said in stderr, "did not answer" in stderr) == (1, True, False), stderr


def test_no_daemon_is_exit_2(tmp: Path) -> None:
    code, stderr = _token(tmp, tmp / "absent.sock")

    assert code == 2, stderr
    assert stderr.strip() == f"spiffebind: error: cannot reach the daemon at {tmp / 'absent.sock'}"
