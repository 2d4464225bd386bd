"""Which audience and scopes an HTTP request behind Envoy needs: the ext_authz route table.

Routes come from the config file (``ext_authz_routes``) or per request from Envoy's
``context_extensions``; both are parsed by the same strict code, so a typo is refused with the
route and key named instead of silently authorizing less (or more) than meant. Matching is
Envoy's own: plain string path prefixes, the longest wins, an exact host beats ``"*"``, and a
request no route covers is denied.

Path and host are first normalized as RFC 3986 section 6 says and as Envoy and common
upstreams do (:func:`request_path`, :func:`request_host`), so one resource has one name:
``/search//admin/x`` and ``/search/%61dmin/x`` are ``/search/admin/x``, and host
``admin.internal.`` is ``admin.internal``. What has no single reading (dot segments, encoded
``/``, backslash, ``;``, ``%``, path parameters, control characters, malformed escapes) is
covered by no route, so denied.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spiffebind.errors import ConfigError
from spiffebind.grammar import SCOPE

CONTEXT_PREFIX = "spiffebind."
_KEYS = frozenset({"host", "prefix", "audience", "scopes", "authorization_details_type", "tool"})
_PORT = re.compile(r":\d*$")
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]")
# RFC 3986 pchar and "/", less ";" (path parameters, which upstreams read differently).
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,=:@/%]*")
_ESCAPE = re.compile(r"%(.{0,2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ENCODED_REFUSED = frozenset("/\\;%")
"""Escapes whose decoding would change how the path splits or is read again."""
_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")


@dataclass(frozen=True)
class Route:
    """What a request matching ``host`` and ``prefix`` must show: a token for ``audience``
    carrying ``scopes`` (and an ``authorization_details`` entry of that type, when set)."""

    audience: str
    prefix: str = "/"
    host: str = "*"
    scopes: tuple[str, ...] = ()
    authorization_details_type: str = ""
    tool: str = ""


@dataclass(frozen=True)
class ExtAuthzSettings:
    """Routes from the config file; ``trust_xfcc`` takes the client from the XFCC header
    (only behind a proxy that sanitizes it); ``keep_authorization`` forwards the token."""

    routes: tuple[Route, ...] = ()
    trust_xfcc: bool = False
    keep_authorization: bool = False


def _text(where: str, key: str, value: Any, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or value != value.strip():
        raise ConfigError(
            f"{where}: key {key!r} must be a non-empty string without surrounding spaces"
        )
    return value


def _scopes(where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ConfigError(f"{where}: key 'scopes' must be a list of strings")
    for scope in value:
        if not SCOPE.fullmatch(scope):
            raise ConfigError(f"{where}: key 'scopes': {scope!r} is not an RFC 6749 scope")
    return tuple(value)


def parse_route(where: str, raw: Any) -> Route:
    """One route mapping; ConfigError names ``where`` and the key at fault."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    prefix = _text(where, "prefix", raw.get("prefix", "/"), required=True)
    if not prefix.startswith("/"):
        raise ConfigError(f"{where}: key 'prefix' must start with '/'")
    if request_path(prefix) != prefix:
        normal = request_path(prefix)
        hint = f": write {normal!r}" if normal else " (dot segments, ';' or escaped '/', '\\')"
        raise ConfigError(f"{where}: key 'prefix' is not a normalized path{hint}")
    host = _text(where, "host", raw.get("host", "*"), required=True)
    if host != "*" and request_host(host) is None:
        raise ConfigError(f"{where}: key 'host' {host!r} is not a host name")
    return Route(
        audience=_text(where, "audience", raw.get("audience"), required=True),
        prefix=prefix,
        host=host if host == "*" else str(request_host(host)),
        scopes=_scopes(where, raw.get("scopes")),
        authorization_details_type=_text(
            where, "authorization_details_type", raw.get("authorization_details_type")
        ),
        tool=_text(where, "tool", raw.get("tool")),
    )


def parse_routes(raw: Any, *, key: str = "ext_authz_routes") -> tuple[Route, ...]:
    """The config file's route list; two routes for one host and prefix are refused."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{key}: must be a list of routes")
    routes: list[Route] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(raw):
        route = parse_route(f"{key}[{index}]", item)
        if (route.host, route.prefix) in seen:
            raise ConfigError(f"{key}[{index}]: a route for {route.host} {route.prefix} exists")
        seen.add((route.host, route.prefix))
        routes.append(route)
    return tuple(routes)


def route_from_context(context: Mapping[str, str]) -> Route:
    """A route from Envoy's per-route ``context_extensions`` (``spiffebind.*`` keys; scopes
    space-separated); ConfigError when they are incomplete or misspelled."""
    fields: dict[str, Any] = {}
    for name, value in context.items():
        if name.startswith(CONTEXT_PREFIX):
            fields[name.removeprefix(CONTEXT_PREFIX)] = value
    for fixed in ("host", "prefix"):
        if fixed in fields:
            raise ConfigError(f"context_extensions: unknown key {CONTEXT_PREFIX + fixed!r}")
    if "scopes" in fields:
        fields["scopes"] = fields["scopes"].split()
    return parse_route("context_extensions", fields)


def request_path(target: str) -> str | None:
    """The normalized path of a request target, without query and fragment; None when it
    has no single reading.

    Escapes of unreserved characters are decoded and the others upper-cased (RFC 3986
    6.2.2.1-2), runs of ``/`` merged (Envoy's ``merge_slashes``); dot segments, ``;``, and
    escaped ``/``, backslash, ``;``, ``%`` or control characters are refused.
    """
    path = target.partition("?")[0].partition("#")[0]
    if not path.startswith("/") or not _PATH.fullmatch(path):
        return None
    try:
        decoded = _ESCAPE.sub(_unescape, path)
    except ValueError:
        return None
    merged = re.sub("/{2,}", "/", decoded)
    return None if _DOT_SEGMENT.search(merged) else merged


def _unescape(escape: re.Match[str]) -> str:
    digits = escape.group(1)
    if len(digits) != 2 or not all(c in string.hexdigits for c in digits):
        raise ValueError(f"malformed escape %{digits}")
    char = chr(int(digits, 16))
    if char in _UNRESERVED:
        return char
    if char in _ENCODED_REFUSED or not "\x20" < char < "\x7f":
        raise ValueError(f"escaped {char!r} has no single reading")
    return "%" + digits.upper()


def request_host(authority: str) -> str | None:
    """The normalized host of an ``:authority``: lower case, no port, no trailing dot
    (RFC 3986 6.2.2.1, and DNS's root label); None when it is not a host name or IP."""
    host = authority.lower()
    if not host.endswith("]"):
        host = _PORT.sub("", host).removesuffix(".")
    return host if _HOST.fullmatch(host) else None


def match_route(routes: Sequence[Route], host: str, path: str) -> Route | None:
    """The route with the longest prefix of ``path`` for this host (exact host first); both
    already normalized (:func:`request_host`, :func:`request_path`)."""
    best: Route | None = None
    for route in routes:
        if route.host not in ("*", host) or not path.startswith(route.prefix):
            continue
        if best is None or (len(route.prefix), route.host != "*") > (
            len(best.prefix),
            best.host != "*",
        ):
            best = route
    return best
