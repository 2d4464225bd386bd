"""The composition root: open what the daemon holds from one frozen config, serve, close once.

:class:`Daemon` opens the identity source, policy, audit log and state stores when built
(closing what it had opened if one fails) and closes them on :meth:`Daemon.close`;
:mod:`spiffebind.wiring` builds the use cases on them once the first SVID is held. While
serving, these tasks run together in one TaskGroup, so one failing stops all: readiness
(:mod:`spiffebind.observe.readiness`), the revocation sweeper, the policy watcher, the
systemd watchdog and, in cluster mode, the revocation feed (:mod:`spiffebind.cluster`).
The gRPC servers and the HTTP side door are started before them and stopped after them,
from one exit stack. SIGTERM and SIGINT drain in-flight calls within
the grace period and exit 0; SIGHUP reloads policy and reopens the audit log without
dropping calls. The identity source watches for rotations on threads of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Self

import uvloop
from prometheus_client import CollectorRegistry

from spiffebind.api.jwks import PublishedKeys
from spiffebind.api.layers import timing
from spiffebind.api.server import ApiServer, Listener, SocketServer
from spiffebind.clock import SystemClock
from spiffebind.config import DaemonConfig
from spiffebind.errors import AuditError, ConfigError, IdentityError, PolicyError, StateError
from spiffebind.identity.files import FileSource
from spiffebind.identity.source import BaseSource, Identity
from spiffebind.identity.workload_api import WorkloadApiSource
from spiffebind.limits import raise_open_files_limit
from spiffebind.observe import notify
from spiffebind.observe.audit import AuditLog, Decision, EventKind
from spiffebind.observe.decisions import Decisions
from spiffebind.observe.http import HttpServer
from spiffebind.observe.metrics import Metrics, new_registry
from spiffebind.observe.readiness import Readiness
from spiffebind.observe.routes import health_routes
from spiffebind.observe.workload_api import WorkloadApiHealth
from spiffebind.service.live_policy import LivePolicy, SettledChange
from spiffebind.state import IssuedLedger, RevocationStore
from spiffebind.token import ReplayCache, Verifier
from spiffebind.wiring import Parts, build_parts

if TYPE_CHECKING:  # imported where configured: Envoy's protos with ext_authz, nats in a cluster
    from spiffebind.api.ext_authz import ExtAuthzServer, ExtAuthzServicer, ExtAuthzTcpServer
    from spiffebind.cluster.feed import RevocationFeed

log = logging.getLogger("spiffebind")

SWEEP_SECONDS = 60.0
WATCH_SECONDS = 1.0


def build_identity(config: DaemonConfig, metrics: Metrics) -> BaseSource:
    """The configured identity source, not yet started."""
    if config.files is not None:
        return FileSource(config.files.svid, config.files.svid_key, config.files.bundles)
    if config.workload_api is None:
        raise ConfigError("no identity source configured")
    return WorkloadApiSource(
        config.workload_api, on_stream=WorkloadApiHealth(metrics), spiffe_id=config.spiffe_id
    )


class Daemon:
    """One node's daemon: what it holds (identity, policy, audit log, state) and its lifecycle.

    Building it opens those, or raises ConfigError with nothing left open; :meth:`close` (or
    leaving ``with``) closes them, and :meth:`run` serves until SIGTERM and then closes them.
    :meth:`parts` gives the servicer and verifier for the identity it holds, which is how the
    benchmarks drive it without sockets.
    """

    def __init__(self, config: DaemonConfig, *, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or new_registry()
        self.metrics = Metrics(self.registry)
        self.clock = SystemClock()
        self.keys = PublishedKeys(self.clock)
        self.replay = ReplayCache()
        self.dpop_replay = ReplayCache()  # DPoP proof jtis, apart from signed requests
        self._stop = asyncio.Event()
        self._held: Identity | None = None
        with contextlib.ExitStack() as opened:
            # the identity source opens nothing until start(); it closes first, audit last
            self.identity = build_identity(config, self.metrics)
            self.policy = _load_policy(config)
            self.audit = _open_audit(config, self.metrics)
            if self.audit is not None:
                opened.callback(self.audit.close)
            self.revocations, self.ledger = _open_state(config.state_dir)
            opened.callback(self.ledger.close)
            opened.callback(self.revocations.close)
            self.feed = self._open_feed()
            if self.feed is not None:
                opened.callback(self.feed.close)
            opened.callback(self.identity.close)
            self._opened = opened.pop_all()
        self._fatal: ConfigError | None = None
        self.readiness = Readiness(
            self.identity, config.state_dir, grace=config.grace_seconds, feed=self.feed
        )
        self.decisions = Decisions(self.metrics, self.audit, lambda: self.policy.policy.digest)
        # read at scrape time, so they are exact whoever changed them last
        self.metrics.revocations_held.set_function(lambda: sum(self.revocations.counts()))
        self.metrics.replay_entries.set_function(lambda: len(self.replay))
        self.metrics.identity_ready.set_function(lambda: self.identity.health().ready)
        self.metrics.ready.set_function(lambda: self.readiness()[0])
        self.metrics.policy_reloaded.set_to_current_time()

    def _open_feed(self) -> RevocationFeed | None:
        """The cluster revocation feed, None in node-local mode."""
        settings = self.config.cluster
        if settings is None:
            return None
        from spiffebind.cluster.feed import RevocationFeed
        from spiffebind.cluster.outbox import FeedState

        try:
            state = FeedState.open(self.config.state_dir)
        except StateError as exc:
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the identity source and close the state stores and the audit log, once."""
        self._opened.close()

    def parts(self, me: Identity) -> Parts:
        """The use cases wired for ``me``, the first identity held (the default issuer)."""
        return build_parts(
            self.config,
            me=me,
            identity=self.identity,
            policy=self.policy,
            revocations=self.revocations,
            ledger=self.ledger,
            replay=self.replay,
            dpop_replay=self.dpop_replay,
            decisions=self.decisions,
            clock=self.clock,
            readiness=self.readiness,
            feed=self.feed,
        )

    # --- events -----------------------------------------------------------------------

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
        self.metrics.policy_reloaded.set_to_current_time()
        self.metrics.policy_rules.set(len(policy.rules))
        self._lifecycle(EventKind.POLICY_RELOAD, Decision.ALLOW)

    def reload_and_reopen(self) -> None:
        """SIGHUP: reopen the audit log (logrotate) and reload the policy."""
        notify.notify_reloading()
        if self.audit is not None:
            self.audit.reopen()
        self.reload()
        notify.notify_ready()

    def _stopping(self) -> None:
        notify.notify_stopping()
        log.info("stopping")
        self._lifecycle(EventKind.SHUTDOWN, Decision.ALLOW)

    # --- tasks ------------------------------------------------------------------------

    async def _every(self, seconds: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            await work()
            await asyncio.sleep(seconds)

    async def _sweep(self) -> None:
        now = self.clock.now()
        await asyncio.to_thread(self.revocations.sweep, now)
        # a verifier accepts a token until exp + skew; its client may revoke it until then
        await asyncio.to_thread(self.ledger.sweep, now - self.config.clock_skew)
        if self.feed is not None:
            await asyncio.to_thread(self.feed.sweep, now)

    async def _run_feed(self, feed: RevocationFeed) -> None:
        """A bucket this daemon cannot use (ConfigError) stops the daemon with exit 2."""
        try:
            await feed.run()
        except ConfigError as exc:  # the CLI prints it as the one line naming the setting
            self._fatal = exc
            self._stop.set()

    async def _watch_policy(self) -> None:
        """Reload a changed file once it holds still; a half-written one is refused anyway."""
        path = self.config.policy
        if path is None:
            return
        change = SettledChange(_stamp(path))
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            if change.observe(_stamp(path)):
                self.reload()

    async def _first_identity(self) -> Identity | None:
        while not self._stop.is_set():
            try:
                return await asyncio.to_thread(self.identity.wait_ready, WATCH_SECONDS)
            except IdentityError as exc:
                log.info("waiting for the first SVID: %s", exc)
        return None

    # --- servers ----------------------------------------------------------------------

    async def _start_api(self, parts: Parts) -> ApiServer:
        server = ApiServer(
            Listener(self.config.socket, self.config.socket_mode),
            parts.servicer,
            layers=(timing(self.metrics),),
        )
        await server.start()
        log.info("API listening on %s", self.config.socket)
        return server

    def _ext_authz(self, verifier: Verifier) -> ExtAuthzServicer:
        """Envoy's ext_authz, deciding with the very verifier VerifyToken uses."""
        from spiffebind.api.ext_authz import ExtAuthzServicer
        from spiffebind.service.ext_authz import ExtAuthz

        return ExtAuthzServicer(ExtAuthz(verifier, self.config.ext_authz), self.decisions)

    async def _start_ext_authz(self, verifier: Verifier) -> ExtAuthzServer | None:
        path = self.config.ext_authz_socket
        if path is None:
            return None
        from spiffebind.api.ext_authz import ExtAuthzServer

        server = ExtAuthzServer(
            Listener(path, self.config.ext_authz_socket_mode, self.config.ext_authz_socket_group),
            self._ext_authz(verifier),
            layers=(timing(self.metrics),),
        )
        await server.start()
        log.info("ext_authz listening on %s", path)
        return server

    async def _start_ext_authz_tcp(
        self, verifier: Verifier, me: Identity
    ) -> ExtAuthzTcpServer | None:
        """ext_authz where meshes expect it, over TCP, with mutual TLS on our own SVID."""
        address = self.config.ext_authz_address
        if address is None:
            return None
        from spiffebind.api.ext_authz import ExtAuthzTcpServer

        server = ExtAuthzTcpServer(
            address,
            self._ext_authz(verifier),
            None if self.config.ext_authz_plaintext else (self.identity, me),
            layers=(timing(self.metrics),),
        )
        port = await server.start()
        scheme = "plaintext" if self.config.ext_authz_plaintext else "mutual TLS"
        log.info("ext_authz listening on %s:%d (%s)", address[0], port, scheme)
        return server

    def _start_http(self, loop: asyncio.AbstractEventLoop) -> HttpServer | None:
        address = self.config.metrics_address
        if address is None:
            return None
        routes = health_routes(
            loop=loop, readiness=self.readiness, registry=self.registry, jwks=self.keys.document
        )
        server = HttpServer(address, routes)
        server.start()
        log.info("health and metrics on http://%s:%d", address[0], server.port)
        return server

    async def _serve(self, api: ApiServer, sockets: Sequence[SocketServer]) -> None:
        """The tasks, until SIGTERM or SIGINT; one that fails ends the others."""
        async with asyncio.TaskGroup() as tasks:
            running = [
                tasks.create_task(notify.watchdog_pings()),
                tasks.create_task(
                    self._every(WATCH_SECONDS, lambda: self.readiness.watch(api, sockets))
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

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then stop the servers and close what is held."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload_and_reopen)
        self.metrics.policy_rules.set(len(self.policy.policy.rules))

        def rotated(identity: Identity) -> None:
            loop.call_soon_threadsafe(self._on_identity, identity)

        self.identity.subscribe(rotated)
        servers: list[SocketServer] = []
        # on the way out, last in first out: the notice, the servers, HTTP, what is held
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(self.close)
            self.identity.start()
            http = self._start_http(loop)
            if http is not None:
                stack.callback(http.close)
            stack.push_async_callback(_stop_all, servers, self.config.grace_seconds)
            stack.callback(self._stopping)
            me = await self._first_identity()
            if me is None:
                return
            log.info("identity %s", me.spiffe_id)
            self._lifecycle(EventKind.STARTUP, Decision.ALLOW, signer=me.spiffe_id)
            parts = self.parts(me)
            # ext_authz first: once the API socket answers, every listener is up
            ext_authz = await self._start_ext_authz(parts.verifier)
            if ext_authz is not None:
                servers.append(ext_authz)
            tcp = await self._start_ext_authz_tcp(parts.verifier, me)
            if tcp is not None:
                stack.push_async_callback(tcp.stop, self.config.grace_seconds)
            api = await self._start_api(parts)
            servers.append(api)
            self.readiness.listening = True
            await self._serve(api, servers)


async def _stop_all(servers: Sequence[SocketServer], grace: float) -> None:
    await asyncio.gather(*(server.stop(grace) for server in servers))


def _load_policy(config: DaemonConfig) -> LivePolicy:
    try:
        return LivePolicy(config.policy, config.max_ttl)
    except PolicyError as exc:
        raise ConfigError(f"policy {config.policy}: {exc}") from None


def _open_audit(config: DaemonConfig, metrics: Metrics) -> AuditLog | None:
    if not config.audit_log:
        return None
    return AuditLog.open(
        config.audit_log, required=config.audit_required, on_error=metrics.audit_errors.inc
    )


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


def _stamp(path: Path) -> tuple[float, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime, st.st_size


def run_daemon(config: DaemonConfig) -> None:
    """Entry point of ``spiffebind run``; returns on a clean stop (exit 0)."""
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    raise_open_files_limit()
    daemon = Daemon(config)
    with contextlib.suppress(KeyboardInterrupt):
        # libuv's loop: grpc.aio schedules several callbacks and futures per call, and each
        # costs less there (measured: 10-20% less CPU per gRPC call than asyncio's own loop)
        uvloop.run(daemon.run())
