"""The policy in force, read from its file and swapped whole on reload, so a decision never
sees half a file; the one place a policy file is read (policy/ itself only parses bytes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from spiffebind.errors import PolicyError
from spiffebind.policy import Decision, Policy, Request, RuleEngine, parse_policy

log = logging.getLogger(__name__)

DENY_ALL = parse_policy("rules: []\n")

T = TypeVar("T")


def load_file(path: Path) -> Policy:
    """Read and parse the policy at ``path``; errors name the file as well as rule and key."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"policy file {path}: {exc.strerror or exc}") from None
    try:
        return parse_policy(source)
    except PolicyError as exc:
        located = PolicyError(f"policy file {path}: {exc}")
        located.rule, located.key = exc.rule, exc.key
        raise located from None


class LivePolicy:
    """Holds the current :class:`RuleEngine`; satisfies the verifier's ``PolicyCheck``.

    Without a policy file every request is denied (default deny). A file that fails to load
    raises PolicyError: at start-up the daemon refuses to run, on reload the old policy stays.
    """

    def __init__(self, path: Path | None, max_ttl: int) -> None:
        self._path = path
        self._max_ttl = max_ttl
        self._engine = RuleEngine(load_file(path) if path else DENY_ALL, max_ttl)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def policy(self) -> Policy:
        return self._engine.policy

    def reload(self) -> Policy:
        """Re-read the file; on PolicyError the policy in force is kept and the error raised."""
        if self._path is None:
            return self.policy
        policy = load_file(self._path)
        self._engine = RuleEngine(policy, self._max_ttl)
        log.info(
            "policy %s loaded: %d rules, digest %s", self._path, len(policy.rules), policy.digest
        )
        return policy

    def decide(self, request: Request) -> Decision:
        return self._engine.decide(request)

    def allows(self, claims: Mapping[str, Any]) -> bool:
        return self._engine.allows(claims)


class SettledChange(Generic[T]):
    """Tells when a watched stamp changed and then held still for one more look.

    A policy file written in place (not renamed into place) is read only once its writer
    has paused; a file caught half-written is still refused by validation.
    """

    def __init__(self, loaded: T) -> None:
        self._loaded = loaded
        self._seen = loaded

    def observe(self, stamp: T) -> bool:
        """Record one look; True when the change is due to be loaded."""
        due = stamp != self._loaded and stamp == self._seen
        if due:
            self._loaded = stamp
        self._seen = stamp
        return due
