"""SPIFFE IDs and the ID patterns used by ``--issuer`` and policy rules.

Strict parsing per the SPIFFE-ID standard, because every trust decision keys on these
strings: a lenient parser would let ``spiffe://Example.org/a/../b`` and
``spiffe://example.org/a/b`` be two names for one workload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from spiffebind.errors import ConfigError

_TD = re.compile(r"[a-z0-9._-]{1,255}")
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_MAX_ID_BYTES = 2048


def parse_spiffe_id(value: str) -> str:
    """``value`` if it is a canonical SPIFFE ID with a path, else ValueError."""
    if not isinstance(value, str) or len(value.encode()) > _MAX_ID_BYTES:
        raise ValueError("not a SPIFFE ID")
    if not value.startswith("spiffe://"):
        raise ValueError("SPIFFE ID must start with spiffe://")
    td, sep, path = value[len("spiffe://") :].partition("/")
    if not _TD.fullmatch(td):
        raise ValueError(f"invalid trust domain {td!r}")
    if not sep:
        raise ValueError("SPIFFE ID has no path")
    for segment in path.split("/"):
        if segment in ("", ".", "..") or not _SEGMENT.fullmatch(segment):
            raise ValueError(f"invalid path segment {segment!r}")
    return value


def trust_domain_of(spiffe_id: str) -> str:
    """The trust domain name of an already-parsed SPIFFE ID."""
    return spiffe_id[len("spiffe://") :].split("/", 1)[0]


def parse_trust_domain(value: str) -> str:
    """A trust domain name, given bare or as ``spiffe://td``; ValueError otherwise."""
    name = value.removeprefix("spiffe://")
    if not _TD.fullmatch(name):
        raise ValueError(f"invalid trust domain {value!r}")
    return name


@dataclass(frozen=True)
class IdPattern:
    """An exact SPIFFE ID, or ``<id>/*`` meaning any ID strictly below ``<id>``.

    A bare prefix never matches by string prefix alone: ``spiffe://td/spiffebind/*`` matches
    ``spiffe://td/spiffebind/node-1`` but not ``spiffe://td/spiffebindx``.
    """

    base: str
    subtree: bool

    @classmethod
    def parse(cls, text: str) -> IdPattern:
        """Parse a pattern; ConfigError names the pattern when it is not one."""
        subtree = text.endswith("/*")
        base = text[:-2] if subtree else text
        try:
            if subtree and base.count("/") == 2:
                parse_trust_domain(base)
            else:
                parse_spiffe_id(base)
        except ValueError as exc:
            raise ConfigError(f"invalid SPIFFE ID pattern {text!r}: {exc}") from None
        return cls(base, subtree)

    def matches(self, spiffe_id: str) -> bool:
        if self.subtree:
            return spiffe_id.startswith(self.base + "/")
        return spiffe_id == self.base

    def __str__(self) -> str:
        return self.base + "/*" if self.subtree else self.base


def matches_any(patterns: tuple[IdPattern, ...], spiffe_id: str) -> bool:
    """Whether any pattern matches; callers must pass IDs already parsed strictly."""
    return any(p.matches(spiffe_id) for p in patterns)


@dataclass(frozen=True)
class IdMatcher:
    """Patterns compiled once for matching many IDs (policy asks on every verification):
    one set look-up for the exact IDs and one ``startswith`` over every subtree's prefix,
    whatever the number of patterns. Matches exactly what :func:`matches_any` matches."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    @classmethod
    def of(cls, patterns: Iterable[IdPattern]) -> IdMatcher:
        listed = tuple(patterns)
        return cls(
            exact=frozenset(p.base for p in listed if not p.subtree),
            prefixes=tuple(dict.fromkeys(p.base + "/" for p in listed if p.subtree)),
        )

    def matches(self, spiffe_id: str) -> bool:
        """Whether any pattern matches; callers must pass IDs already parsed strictly."""
        return spiffe_id in self.exact or spiffe_id.startswith(self.prefixes)
