"""What the HTTP adapters share: whom they ask for tokens, and when a tool refused one.

The adapters never talk to the daemon themselves; they ask an :class:`AgentClient` (or
anything with its two methods), which caches tokens, renews them at 80% of their lifetime
and after an SVID rotation. A tool's ``401`` with ``Bearer error="invalid_token"`` (RFC 6750
section 3.1) means the cached token is dead for reasons the SDK cannot see (revoked, or the
tool saw another certificate): drop it and try once more with a fresh one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from spiffebind.client.core import BoundToken
from spiffebind.errors import ConfigError


class TokenSource(Protocol):
    """What the blocking adapters need of an :class:`AgentClient`."""

    def token(
        self,
        audience: str,
        scopes: Sequence[str] = (),
        *,
        ttl: int | None = None,
        txn: str | None = None,
    ) -> BoundToken: ...

    def forget(self, jti: str) -> None: ...


class AsyncTokenSource(Protocol):
    """What the asyncio adapter needs of an :class:`AsyncAgentClient`."""

    async def token(
        self,
        audience: str,
        scopes: Sequence[str] = (),
        *,
        ttl: int | None = None,
        txn: str | None = None,
    ) -> BoundToken: ...

    def forget(self, jti: str) -> None: ...


@dataclass(frozen=True)
class Ask:
    """The token one tool's calls need."""

    audience: str
    scopes: tuple[str, ...] = ()
    txn: str | None = None
    ttl: int | None = None

    def of(self, agent: TokenSource) -> BoundToken:
        return agent.token(self.audience, self.scopes, txn=self.txn, ttl=self.ttl)

    async def of_async(self, agent: AsyncTokenSource) -> BoundToken:
        return await agent.token(self.audience, self.scopes, txn=self.txn, ttl=self.ttl)


S = TypeVar("S", TokenSource, AsyncTokenSource)


class Asking(Generic[S]):
    """An adapter's token source and what it asks for: the constructor every adapter shares."""

    def __init__(
        self,
        agent: S,
        audience: str,
        scopes: Sequence[str] = (),
        *,
        txn: str | None = None,
        ttl: int | None = None,
    ) -> None:
        self._agent: S = agent
        self._ask = Ask(audience, tuple(scopes), txn, ttl)


def authorization(token: BoundToken, url_scheme: str) -> str:
    """The Authorization header value; a bearer token never travels in clear text."""
    if url_scheme.lower() != "https":
        raise ConfigError(f"refusing to send a bound token over {url_scheme}://, only https")
    return f"Bearer {token.access_token}"


_TCHARS = r"[\w!#$%&'*+.^`|~-]+"
_ITEM = re.compile(
    rf'(?P<key>{_TCHARS})\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s,]*)|(?P<scheme>{_TCHARS})'
)


def bearer_error(challenges: str) -> str | None:
    """The ``error`` parameter of the Bearer challenge in a WWW-Authenticate value, if any."""
    scheme = ""
    for item in _ITEM.finditer(challenges):
        if item["scheme"]:
            scheme = item["scheme"].lower()
        elif item["key"] and item["key"].lower() == "error" and scheme == "bearer":
            value = item["value"]
            return re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith('"') else value
    return None


def token_refused(status: int, challenges: str) -> bool:
    """A 401 that says the token itself is no good: worth one retry with a fresh token."""
    return status == 401 and bearer_error(challenges) == "invalid_token"
