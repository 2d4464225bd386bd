"""The composition root: build every part from one frozen config, run the tasks together.

Tasks: the identity watcher (rotations), readiness (health service, /readyz, sd_notify), the
revocation sweeper, the policy watcher, the cluster revocation feed (when configured), and the
gRPC server. One failing stops all; SIGTERM
and SIGINT drain in-flight calls within the grace period and exit 0; SIGHUP reloads policy
and reopens the audit log without dropping calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from spiffebind.api.ext_authz import ExtAuthzServer, ExtAuthzServicer
from spiffebind.api.interceptors import MetricsInterceptor
from spiffebind.api.jwks import PublishedKeys
from spiffebind.api.server import ApiServer, Listener, SocketServer
from spiffebind.api.servicer import TokenServicer
from spiffebind.clock import SystemClock
from spiffebind.cluster.feed import RevocationFeed
from spiffebind.cluster.outbox import FeedState
from spiffebind.config import DaemonConfig
from spiffebind.errors import AuditError, ConfigError, IdentityError, PolicyError, StateError
from spiffebind.identity.files import FileSource
from spiffebind.identity.source import BaseSource, Identity
from spiffebind.identity.workload_api import WorkloadApiSource
from spiffebind.limits import raise_open_files_limit
from spiffebind.observe import notify
from spiffebind.observe.audit import AuditLog, Decision, EventKind
from spiffebind.observe.decisions import Decisions
from spiffebind.observe.http import HttpServer, Response, text
from spiffebind.observe.metrics import Metrics, new_registry
from spiffebind.observe.upstream import WorkloadApiHealth
from spiffebind.service.ext_authz import ExtAuthz
from spiffebind.service.live_policy import LivePolicy, SettledChange
from spiffebind.state import IssuedLedger, RevocationStore
from spiffebind.token import ReplayCache
from spiffebind.token.jwk import JWKS_MEDIA_TYPE
from spiffebind.wiring import build_parts

log = logging.getLogger("spiffebind")

SWEEP_SECONDS = 60.0
WATCH_SECONDS = 1.0


def build_identity(config: DaemonConfig, metrics: Metrics) -> BaseSource:
    if config.files is not None:
        return FileSource(config.files.svid, config.files.svid_key, config.files.bundles)
    if config.workload_api is None:
        raise ConfigError("no identity source configured")
    return WorkloadApiSource(config.workload_api, on_stream=WorkloadApiHealth(metrics))


class Daemon:
    def __init__(self, config: DaemonConfig, *, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or new_registry()
        self.metrics = Metrics(self.registry)
        self.clock = SystemClock()
        self.identity = build_identity(config, self.metrics)
        try:
            self.policy = LivePolicy(config.policy, config.max_ttl)
        except PolicyError as exc:
            raise ConfigError(f"policy {config.policy}: {exc}") from None
        self.audit = (
            AuditLog.open(
                config.audit_log,
                required=config.audit_required,
                on_error=self.metrics.audit_errors.inc,
            )
            if config.audit_log
            else None
        )
        self.decisions = Decisions(self.metrics, self.audit, lambda: self.policy.policy.digest)
        self.revocations, self.ledger = _open_state(config.state_dir)
        self.feed = self._feed()
        self.replay = ReplayCache()
        # read at scrape time, so they are exact whoever changed them last
        self.metrics.revocations_held.set_function(lambda: sum(self.revocations.counts()))
        self.metrics.replay_entries.set_function(lambda: len(self.replay))
        self.metrics.identity_ready.set_function(lambda: self.identity.health().ready)
        self._stop = asyncio.Event()
        self._fatal: ConfigError | None = None
        self._ready = False
        self._announced: bool | None = None
        self._held: Identity | None = None
        self.keys = PublishedKeys(self.clock)
        self._state_writable = True
        self._socket_problems: list[str] = []

    # --- wiring -----------------------------------------------------------------------

    def _feed(self) -> RevocationFeed | None:
        settings = self.config.cluster
        if settings is None:
            return None
        try:
            state = FeedState.open(self.config.state_dir)
        except StateError as exc:
            self.revocations.close()
            self.ledger.close()
            raise ConfigError(f"--state-dir: {exc}") from None
        return RevocationFeed(
            settings,
            store=self.revocations,
            state=state,
            identity=self.identity,
            metrics=self.metrics,
            record=self._lifecycle,
            skew=self.config.clock_skew,
        )

    def _servicer(self, me: Identity) -> TokenServicer:
        parts = build_parts(
            self.config,
            me=me,
            identity=self.identity,
            policy=self.policy,
            revocations=self.revocations,
            ledger=self.ledger,
            replay=self.replay,
            decisions=self.decisions,
            clock=self.clock,
            readiness=self._readiness,
            feed=self.feed,
        )
        self.verifier, self.info = parts.verifier, parts.info
        return parts.servicer

    async def _start_ext_authz(self) -> ExtAuthzServer | None:
        """Envoy's ext_authz endpoint, deciding with the very verifier VerifyToken uses."""
        path = self.config.ext_authz_socket
        if path is None:
            return None
        server = ExtAuthzServer(
            Listener(path, self.config.ext_authz_socket_mode, self.config.ext_authz_socket_group),
            ExtAuthzServicer(ExtAuthz(self.verifier, self.config.ext_authz), self.decisions),
            interceptors=(MetricsInterceptor(self.metrics),),
        )
        await server.start()
        log.info("ext_authz listening on %s", path)
        return server

    def _http(self, loop: asyncio.AbstractEventLoop) -> HttpServer | None:
        if self.config.metrics_address is None:
            return None

        def healthz() -> Response:
            future = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop)
            future.result(timeout=2.0)
            return text(200, "ok")

        def readyz() -> Response:
            ready, why = self._readiness()
            return text(200, "ready") if ready else text(503, f"not ready: {why}")

        def metrics() -> Response:
            return Response(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)

        server = HttpServer(
            self.config.metrics_address,
            {
                "/healthz": healthz,
                "/readyz": readyz,
                "/metrics": metrics,
                "/jwks.json": lambda: Response(200, self.keys.document(), JWKS_MEDIA_TYPE),
            },
        )
        server.start()
        log.info("health and metrics on http://%s:%d", self.config.metrics_address[0], server.port)
        return server

    # --- readiness and events ---------------------------------------------------------

    def _readiness(self) -> tuple[bool, str]:
        health = self.identity.health()
        if not health.ready:
            return False, health.reason
        if self._socket_problems:
            return False, "; ".join(self._socket_problems)
        if not self._state_writable:
            return False, f"state directory {self.config.state_dir} is not writable"
        if not self._ready:
            return False, "API socket is not listening yet"
        if self.feed is not None:
            return self.feed.readiness()
        return True, ""

    def _on_identity(self, identity: Identity) -> None:
        """Every new snapshot; a bundle-only update (JWT or X.509) is no SVID rotation."""
        previous, self._held = self._held, identity
        self.keys.update(identity.signing)
        if self.feed is not None:
            self.feed.rotated()
        if self.decisions.identity_changed(previous, identity):
            log.info("SVID %s rotated, valid until %d", identity.spiffe_id, identity.not_after)
            self._lifecycle(EventKind.IDENTITY_ROTATION, Decision.ALLOW, signer=identity.spiffe_id)

    def _lifecycle(self, event: EventKind, decision: Decision, **fields: str) -> None:
        """Lifecycle events are best effort even with a required audit log: no caller waits."""
        try:
            self.decisions.record(event, decision, **fields)
        except AuditError as exc:
            log.error("audit: %s", exc)

    def reload(self) -> None:
        """A broken policy file is refused and logged, the old policy stays."""
        try:
            policy = self.policy.reload()
        except PolicyError as exc:
            self.metrics.policy_reloads.labels(result="refused").inc()
            log.error(
                "policy reload refused, keeping digest %s: %s", self.policy.policy.digest, exc
            )
            self._lifecycle(EventKind.POLICY_RELOAD, Decision.DENY, reason="policy_invalid")
            return
        self.metrics.policy_reloads.labels(result="ok").inc()
        self.metrics.policy_rules.set(len(policy.rules))
        self._lifecycle(EventKind.POLICY_RELOAD, Decision.ALLOW)

    def hangup(self) -> None:
        """SIGHUP: reopen the audit log (logrotate) and reload the policy."""
        notify.notify_reloading()
        if self.audit is not None:
            self.audit.reopen()
        self.reload()
        notify.notify_ready()

    # --- tasks ------------------------------------------------------------------------

    async def _every(self, seconds: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            await work()
            await asyncio.sleep(seconds)

    async def _watch_readiness(self, server: ApiServer, sockets: list[SocketServer]) -> None:
        await self._keep_bound(sockets)
        self._state_writable = await asyncio.to_thread(_writable, self.config)
        ready, why = self._readiness()
        await server.set_serving(ready)
        if ready != self._announced:
            self._announced = ready
            if ready:
                notify.notify_ready()
                log.info("ready")
            else:
                log.warning("not ready: %s", why)

    async def _keep_bound(self, servers: list[SocketServer]) -> None:
        """Listen again on a socket whose file or directory was removed under us."""
        problems = []
        for server in servers:
            try:
                if await server.keep_bound(self.config.grace_seconds):
                    log.warning("socket %s was removed; listening on it again", server.path)
            except ConfigError as exc:
                problems.append(str(exc))
        if problems != self._socket_problems:
            for problem in problems:
                log.error("cannot listen again: %s", problem)
            self._socket_problems = problems

    async def _sweep(self) -> None:
        now = self.clock.now()
        await asyncio.to_thread(self.revocations.sweep, now)
        # a verifier accepts a token until exp + skew; its client may revoke it until then
        await asyncio.to_thread(self.ledger.sweep, now - self.config.clock_skew)
        if self.feed is not None:
            await asyncio.to_thread(self.feed.sweep, now)

    async def _watch_policy(self) -> None:
        """Reload a changed file once it holds still; a half-written one is refused anyway."""
        path = self.config.policy
        change = SettledChange(_stamp(path))
        while path is not None:
            await asyncio.sleep(WATCH_SECONDS)
            if change.observe(_stamp(path)):
                self.reload()

    async def _run_feed(self, feed: RevocationFeed) -> None:
        """A bucket this daemon cannot use (ConfigError) stops the daemon with exit 2."""
        try:
            await feed.run()
        except ConfigError as exc:  # the CLI prints it as the one line naming the setting
            self._fatal = exc
            self._stop.set()

    async def _first_identity(self) -> Identity | None:
        while not self._stop.is_set():
            try:
                return await asyncio.to_thread(self.identity.wait_ready, WATCH_SECONDS)
            except IdentityError as exc:
                log.info("waiting for the first SVID: %s", exc)
        return None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.hangup)
        self.metrics.policy_rules.set(len(self.policy.policy.rules))

        def rotated(identity: Identity) -> None:
            loop.call_soon_threadsafe(self._on_identity, identity)

        self.identity.subscribe(rotated)
        self.identity.start()
        http = self._http(loop)
        server: ApiServer | None = None
        ext_authz: ExtAuthzServer | None = None
        try:
            me = await self._first_identity()
            if me is None:
                return
            log.info("identity %s", me.spiffe_id)
            self._lifecycle(EventKind.STARTUP, Decision.ALLOW, signer=me.spiffe_id)
            server = ApiServer(
                Listener(self.config.socket, self.config.socket_mode),
                self._servicer(me),
                interceptors=(MetricsInterceptor(self.metrics),),
            )
            await server.start()
            ext_authz = await self._start_ext_authz()
            sockets: list[SocketServer] = [s for s in (server, ext_authz) if s is not None]
            self._ready = True
            log.info("API listening on %s", self.config.socket)
            async with asyncio.TaskGroup() as tasks:
                running = [
                    tasks.create_task(notify.watchdog_pings()),
                    tasks.create_task(
                        self._every(WATCH_SECONDS, lambda: self._watch_readiness(server, sockets))
                    ),
                    tasks.create_task(self._every(SWEEP_SECONDS, self._sweep)),
                    tasks.create_task(self._watch_policy()),
                ]
                if self.feed is not None:
                    running.append(tasks.create_task(self._run_feed(self.feed)))
                await self._stop.wait()
                for task in running:
                    task.cancel()
            if self._fatal is not None:
                raise self._fatal
        finally:
            notify.notify_stopping()
            log.info("stopping")
            self._lifecycle(EventKind.SHUTDOWN, Decision.ALLOW)
            grace = self.config.grace_seconds
            await asyncio.gather(*(s.stop(grace) for s in (server, ext_authz) if s is not None))
            if http is not None:
                http.close()
            self.identity.close()
            self.revocations.close()
            self.ledger.close()
            if self.feed is not None:
                self.feed.close()
            if self.audit is not None:
                self.audit.close()


def _open_state(state_dir: Path) -> tuple[RevocationStore, IssuedLedger]:
    """Both stores, or ConfigError naming what is wrong: a daemon that cannot keep what it
    acknowledges must not start."""
    try:
        revocations = RevocationStore.open(state_dir)
        try:
            return revocations, IssuedLedger.open(state_dir)
        except BaseException:
            revocations.close()
            raise
    except StateError as exc:
        raise ConfigError(f"--state-dir: {exc}") from None


def _stamp(path: Path | None) -> tuple[float, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime, st.st_size


def _writable(config: DaemonConfig) -> bool:
    """Whether a byte reaches the disk there: a full disk still lets empty files be created."""
    try:
        with tempfile.TemporaryFile(dir=config.state_dir, buffering=0) as probe:
            probe.write(b"\0")
            os.fsync(probe.fileno())
            return True
    except OSError:
        return False


def run_daemon(config: DaemonConfig, *, log_level: str = "info") -> None:
    """Entry point of ``spiffebind run``; returns on a clean stop (exit 0)."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    raise_open_files_limit()
    daemon = Daemon(config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(daemon.run())
