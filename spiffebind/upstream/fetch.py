"""The only network calls to upstream issuers: bounded in time and size, one error type.

Standard-library urllib, so the daemon gains no HTTP dependency. Anything that keeps us
from an answer (refused connection, timeout, an HTTP error status, an oversized body)
becomes :class:`UpstreamUnavailable` naming the URL, never a hang and never the token.
"""

from __future__ import annotations

import base64
import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spiffebind.errors import UpstreamUnavailable

MAX_BODY_BYTES = 1 << 20


def read_location(location: str, timeout: float) -> bytes:
    """A JWKS document from an http(s) URL or a file."""
    if "://" in location:
        return _send(_request(location, headers=_ACCEPT), timeout)
    try:
        with Path(location).open("rb") as file:
            return _bounded(location, file.read(MAX_BODY_BYTES + 1))
    except OSError as exc:
        raise UpstreamUnavailable(f"JWKS file {location}: {exc.strerror or exc}") from None


def post_form(
    url: str, form: Mapping[str, str], *, basic_auth: tuple[str, str], timeout: float
) -> bytes:
    """An ``application/x-www-form-urlencoded`` POST with HTTP Basic client authentication.

    RFC 6749 2.3.1: client id and secret are form-urlencoded before they are joined.
    """
    user, secret = (urllib.parse.quote(part, safe="") for part in basic_auth)
    credentials = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
    request = _request(
        url,
        data=urllib.parse.urlencode(form).encode("ascii"),
        headers={**_ACCEPT, "Authorization": f"Basic {credentials}"},
        method="POST",
    )
    return _send(request, timeout)


_ACCEPT = {"Accept": "application/json"}


def _request(url: str, **kwargs: Any) -> urllib.request.Request:
    """http(s) only: urllib would also open file: and ftp: URLs."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UpstreamUnavailable(f"{url}: only http and https are fetched")
    return urllib.request.Request(url, **kwargs)  # noqa: S310 - scheme checked above


def _send(request: urllib.request.Request, timeout: float) -> bytes:
    url = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked
            body: bytes = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise UpstreamUnavailable(f"{url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        why = getattr(exc, "reason", None) or exc
        raise UpstreamUnavailable(f"{url} is unreachable: {why}") from None
    return _bounded(url, body)


def _bounded(where: str, body: bytes) -> bytes:
    if len(body) > MAX_BODY_BYTES:
        raise UpstreamUnavailable(f"{where} is larger than {MAX_BODY_BYTES} bytes")
    return body
