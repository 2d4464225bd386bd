"""Which upstream OAuth2 issuers the daemon accepts subject tokens from, read strictly.

The ``upstream_issuers`` key of the ``--config`` file lists them. Each entry is a trust
decision, so a typo refuses the whole list with a message naming the entry and the key,
never a silently weaker check.

```yaml
upstream_issuers:
  - issuer: https://hydra.example.org/              # the tokens' exact `iss`
    subject_prefix: spiffe://example.org/users      # upstream `sub` x becomes <prefix>/x
    audience: spiffe://example.org/spiffebind       # must be in the tokens' `aud`
    algorithms: [RS256]                             # asymmetric JWS algs only
    jwks: https://hydra.example.org/.well-known/jwks.json   # URL or file, or:
    introspection:                                  # RFC 7662, instead of jwks
      endpoint: https://hydra.example.org/admin/oauth2/introspect
      client_id: spiffebind
      client_secret_file: /etc/spiffebind/hydra-secret
    cache_seconds: 300                              # JWKS cache lifetime
    timeout: 3                                      # seconds per upstream call
```
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from spiffebind.errors import ConfigError
from spiffebind.spiffeid import parse_spiffe_id

T = TypeVar("T")

ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric algorithms only: an HMAC key would be a shared secret, ``none`` no key at all."""

MAX_TIMEOUT = 30.0
_KEYS = frozenset(
    {
        "issuer",
        "subject_prefix",
        "audience",
        "algorithms",
        "jwks",
        "introspection",
        "cache_seconds",
        "timeout",
    }
)
_INTROSPECTION_KEYS = frozenset({"endpoint", "client_id", "client_secret_file"})


@dataclass(frozen=True)
class Introspection:
    endpoint: str
    client_id: str
    client_secret_file: Path


@dataclass(frozen=True)
class UpstreamIssuer:
    """One trusted issuer; exactly one of ``jwks`` and ``introspection`` is set."""

    issuer: str
    subject_prefix: str
    audience: str
    algorithms: tuple[str, ...]
    jwks: str | None = None
    introspection: Introspection | None = None
    cache_seconds: int = 300
    timeout: float = 3.0


def parse_upstream_issuers(value: object) -> tuple[UpstreamIssuer, ...]:
    """The ``upstream_issuers`` list of the config file (relative paths: from the cwd)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError("upstream_issuers: must be a list of issuers")
    issuers = tuple(_issuer(f"#{i + 1}", raw) for i, raw in enumerate(value))
    names = [i.issuer for i in issuers]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"upstream_issuers: issuer {duplicate!r} is listed twice")
    return issuers


def _issuer(position: str, raw: object) -> UpstreamIssuer:
    if not isinstance(raw, dict):
        raise ConfigError(f"upstream_issuers {position}: must be a mapping")
    name = raw.get("issuer")
    where = f"upstream_issuers {name!r}" if isinstance(name, str) and name else position

    def bad(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}: key {key!r}: {problem}")

    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise bad(unknown[0], "unknown key")
    for key in ("issuer", "subject_prefix", "audience", "algorithms"):
        if key not in raw:
            raise bad(key, "missing required key")
    if ("jwks" in raw) == ("introspection" in raw):
        raise bad("jwks", "give exactly one of jwks and introspection")

    def field(key: str, parse: Callable[[Any], T], default: T) -> T:
        if key not in raw:
            return default
        try:
            return parse(raw[key])
        except (ValueError, TypeError) as exc:
            raise bad(key, str(exc)) from None

    return UpstreamIssuer(
        issuer=field("issuer", _text, ""),
        subject_prefix=field("subject_prefix", parse_spiffe_id, ""),
        audience=field("audience", _text, ""),
        algorithms=field("algorithms", _algorithms, ()),
        jwks=field("jwks", _location, None),
        introspection=field("introspection", _introspection, None),
        cache_seconds=field("cache_seconds", _positive_int, 300),
        timeout=field("timeout", _timeout, 3.0),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value or value != value.strip():
        raise ValueError("must be a non-empty string without surrounding spaces")
    return value


def _algorithms(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("must be a non-empty list")
    wrong = [a for a in value if a not in ALGORITHMS]
    if wrong:
        raise ValueError(f"{wrong[0]!r} is not one of {', '.join(sorted(ALGORITHMS))}")
    return tuple(dict.fromkeys(value))


def _url(value: Any) -> str:
    url = _text(value)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


def _location(value: Any) -> str:
    """A JWKS URL, or a file path."""
    text = _text(value)
    return _url(text) if "://" in text else text


def _introspection(value: Any) -> Introspection:
    if not isinstance(value, dict):
        raise ValueError("must be a mapping with endpoint, client_id, client_secret_file")
    unknown = sorted(str(k) for k in value if k not in _INTROSPECTION_KEYS)
    missing = sorted(_INTROSPECTION_KEYS - value.keys())
    if unknown or missing:
        raise ValueError(f"unknown key {unknown[0]!r}" if unknown else f"missing {missing[0]!r}")
    return Introspection(
        endpoint=_url(value["endpoint"]),
        client_id=_text(value["client_id"]),
        client_secret_file=Path(_text(value["client_secret_file"])),
    )


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"must be a positive integer, not {value!r}")
    return value


def _timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number of seconds, not {value!r}")
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise ValueError(f"must be between 0 and {MAX_TIMEOUT:g} seconds")
    return float(value)
