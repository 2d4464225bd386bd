"""Where the daemon's identity comes from: one snapshot type, one protocol, one shared core.

Every source hands out immutable :class:`Identity` snapshots and judges readiness the same
way. A held SVID stops counting once its leaf's notAfter has passed on the injected clock,
checked on every call, because py-spiffe (and a stale file) keep serving an expired SVID
without a word.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType
from typing import Protocol, Self

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from spiffebind.clock import SYSTEM_CLOCK, Clock
from spiffebind.errors import IdentityError
from spiffebind.spiffeid import trust_domain_of
from spiffebind.token.svid import SigningIdentity

_logger = logging.getLogger(__name__)

"""Unix seconds; injected so expiry can be tested without waiting."""

X509Bundles = Mapping[str, tuple[x509.Certificate, ...]]
"""Trust-domain name (``example.org``) to its X.509 authorities; federated domains included."""

JwtBundles = Mapping[str, Mapping[str, PublicKeyTypes]]
"""Trust-domain name to ``kid`` to JWT authority."""

Subscriber = Callable[["Identity"], None]


@dataclass(frozen=True)
class Identity:
    """One consistent SVID + key + bundles; checked on construction (IdentityError).

    ``spiffe_id`` and ``signing`` derive from the chain, so they can never disagree with it.
    Two identities compare equal when they carry the same certificates and bundles.
    """

    chain: tuple[x509.Certificate, ...]
    private_key: PrivateKeyTypes = field(compare=False, repr=False)
    x509_bundles: X509Bundles
    jwt_bundles: JwtBundles = field(default_factory=dict)
    signing: SigningIdentity = field(init=False, compare=False, repr=False)
    spiffe_id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        chain = tuple(self.chain)
        signing = SigningIdentity(chain, self.private_key)
        x509_bundles = MappingProxyType({td: tuple(c) for td, c in self.x509_bundles.items()})
        jwt_bundles = MappingProxyType(
            {td: MappingProxyType(dict(keys)) for td, keys in self.jwt_bundles.items()}
        )
        if not x509_bundles.get(trust_domain_of(signing.spiffe_id)):
            raise IdentityError(
                f"no X.509 bundle for the SVID's own trust domain: {signing.spiffe_id}"
            )
        for name, value in (
            ("chain", chain),
            ("x509_bundles", x509_bundles),
            ("jwt_bundles", jwt_bundles),
            ("signing", signing),
            ("spiffe_id", signing.spiffe_id),
        ):
            object.__setattr__(self, name, value)

    @property
    def trust_domain(self) -> str:
        return trust_domain_of(self.spiffe_id)

    @cached_property
    def not_after(self) -> float:
        """The leaf's notAfter in unix seconds (the unit every clock in spiffebind uses)."""
        return self.chain[0].not_valid_after_utc.timestamp()


@dataclass(frozen=True)
class Health:
    """Readiness with a human reason; ``last_update`` is when the held SVID arrived."""

    ready: bool
    reason: str
    last_update: float | None


class IdentitySource(Protocol):
    """What the daemon and the CLI need from an identity source.

    ``subscribe`` callbacks run on the source's own thread (or, for the identity already held,
    on the subscriber's thread) and must not block; an asyncio consumer bridges them with
    ``loop.call_soon_threadsafe``. An exception in a callback is logged and ignored.
    """

    def start(self) -> None: ...

    def close(self) -> None: ...

    def current(self) -> Identity: ...

    def health(self) -> Health: ...

    def bundles(self) -> X509Bundles: ...

    def subscribe(self, callback: Subscriber) -> None: ...

    def wait_ready(self, timeout: float) -> Identity: ...


class BaseSource(abc.ABC):
    """The snapshot, subscribers and readiness that every source shares.

    Subclasses feed it through ``_publish`` (a new identity) and ``_report`` (a named
    problem, or None once it is gone); they only own how material arrives.
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._publishing = threading.Lock()  # serialises notifications, keeps them in order
        self._identity: Identity | None = None
        self._last_update: float | None = None
        self._problems: dict[str, str] = {}
        self._subscribers: list[Subscriber] = []

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def current(self) -> Identity:
        """The held identity; IdentityError when there is none or it has expired."""
        with self._cond:
            identity, why = self._usable()
        if identity is None:
            raise IdentityError(why)
        return identity

    def health(self) -> Health:
        with self._cond:
            identity, why = self._usable()
            return Health(identity is not None, why, self._last_update)

    def bundles(self) -> X509Bundles:
        """The last X.509 bundles received, kept after the SVID expires: verifying others'
        SVIDs needs no SVID of our own, so it can go on while issuing stops."""
        with self._cond:
            return self._identity.x509_bundles if self._identity else MappingProxyType({})

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback`` with every new identity, starting with the one held now, if any."""
        with self._publishing:
            with self._cond:
                self._subscribers.append(callback)
                held = self._identity
            if held is not None:
                _notify(callback, held)

    def wait_ready(self, timeout: float) -> Identity:
        """Block until a valid identity is held; IdentityError with the last problem on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                identity, why = self._usable()
                remaining = deadline - time.monotonic()
                if identity is not None:
                    return identity
                if remaining <= 0:
                    raise IdentityError(f"no valid SVID after {timeout:g}s: {why}")
                self._cond.wait(remaining)

    def _held(self) -> Identity | None:
        """The last identity published, expired or not (for sources that amend it)."""
        with self._cond:
            return self._identity

    def _publish(self, identity: Identity) -> None:
        with self._publishing:
            with self._cond:
                if identity == self._identity:
                    return
                self._identity = identity
                self._last_update = self._clock.now()
                self._cond.notify_all()
                subscribers = list(self._subscribers)
            _logger.info("identity %s, SVID valid until %s", identity.spiffe_id, _iso(identity))
            for callback in subscribers:
                _notify(callback, identity)

    def _report(self, key: str, problem: str | None) -> None:
        with self._cond:
            previous = self._problems.pop(key, None)
            if problem is not None:
                self._problems[key] = problem
        if problem is not None and problem != previous:
            _logger.warning("identity source: %s: %s", key, problem)

    def _usable(self) -> tuple[Identity | None, str]:
        """The identity if still valid, and the reason to show; caller holds ``_cond``."""
        identity = self._identity
        expired = identity is not None and self._clock.now() >= identity.not_after
        if identity is not None and not expired and not self._problems:
            return identity, "ok"  # what every issuance meets: no report to write
        problems = "; ".join(f"{k}: {v}" for k, v in sorted(self._problems.items()))
        if identity is None:
            return None, _join("waiting for the first SVID", problems)
        if expired:
            return None, _join(f"SVID expired at {_iso(identity)}", problems)
        return identity, f"serving the last SVID; {problems}" if problems else "ok"


def _notify(callback: Subscriber, identity: Identity) -> None:
    try:
        callback(identity)
    except Exception:
        _logger.exception("identity subscriber %r failed", callback)


def _join(head: str, tail: str) -> str:
    return f"{head}: {tail}" if tail else head


def _iso(identity: Identity) -> str:
    return datetime.fromtimestamp(identity.not_after, UTC).isoformat()
