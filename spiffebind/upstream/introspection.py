"""RFC 7662 token introspection: ask the issuer itself whether a token is active.

The token goes to the introspection endpoint of the issuer named by its own ``iss`` and to
no one else. The client secret is read from its file on every call, so rotating it needs no
restart, and it never appears in a message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from spiffebind.errors import Reason, UpstreamUnavailable
from spiffebind.upstream.fetch import post_form
from spiffebind.upstream.grant import refused
from spiffebind.upstream.settings import Introspection

Post = Callable[..., bytes]


class Introspector:
    def __init__(self, settings: Introspection, *, timeout: float, post: Post = post_form) -> None:
        self._settings = settings
        self._timeout = timeout
        self._post = post

    def claims(self, token: str) -> Mapping[str, Any]:
        """The introspection response of an active token; refused when it is not active."""
        s = self._settings
        try:
            secret = s.client_secret_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UpstreamUnavailable(
                f"introspection secret {s.client_secret_file}: {exc}"
            ) from None
        body = self._post(
            s.endpoint,
            {"token": token, "token_type_hint": "access_token"},
            basic_auth=(s.client_id, secret),
            timeout=self._timeout,
        )
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            raise UpstreamUnavailable(f"{s.endpoint} did not answer as RFC 7662 describes")
        if not answer["active"]:
            # RFC 7662 does not say why (expired, revoked, never valid), nor do we.
            raise refused(Reason.REVOKED, "the issuer says the token is not active")
        return answer
