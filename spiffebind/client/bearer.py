"""What the HTTP adapters share: whom they ask for tokens, and when a tool refused one.

The adapters never talk to the daemon themselves; they ask an :class:`AgentClient` (or
anything with its three methods), which caches tokens, renews them at 80% of their lifetime
and after an SVID rotation. A tool's ``401`` with ``error="invalid_token"`` in a ``Bearer``
or ``DPoP`` challenge (RFC 6750 section 3.1, RFC 9449 section 7.1) means the cached token is
dead for reasons the SDK cannot see (revoked, or the tool saw another certificate or key):
drop it and try once more with a fresh one. A ``DPoP`` ``use_dpop_nonce`` challenge (RFC 9449
section 9) is tried once more with the nonce the tool named.

Possession is proven by mTLS (``Bearer``, the adapters' ``mtls_*`` clients and sessions set
it) or by DPoP proofs signed with the SVID key (the default elsewhere: a plain HTTPS client
reaches the tool through whatever terminates TLS on the way).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from spiffebind.client.core import BoundToken
from spiffebind.client.dpop import DpopSigner
from spiffebind.errors import ConfigError
from spiffebind.token import SigningIdentity

DPOP, MTLS = "dpop", "mtls"


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

    def signing(self) -> SigningIdentity:
        """The agent's SVID and key now: what DPoP proofs are signed with."""
        ...


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

    def signing(self) -> SigningIdentity: ...


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
    """An adapter's token source, what it asks for and how it proves possession (``proof``:
    ``"dpop"``, the default, or ``"mtls"``): the constructor every adapter shares."""

    def __init__(
        self,
        agent: S,
        audience: str,
        scopes: Sequence[str] = (),
        *,
        txn: str | None = None,
        ttl: int | None = None,
        proof: str = DPOP,
    ) -> None:
        if proof not in (DPOP, MTLS):
            raise ConfigError(f"proof must be {DPOP!r} or {MTLS!r}, not {proof!r}")
        self._agent: S = agent
        self._ask = Ask(audience, tuple(scopes), txn, ttl)
        self._dpop = DpopSigner(agent.signing) if proof == DPOP else None

    def over_mtls(self) -> None:
        """Prove possession by the connection's certificate: what the ``mtls_*`` helpers set."""
        self._dpop = None

    def _headers(self, token: BoundToken, method: str, url: str, body: bytes) -> dict[str, str]:
        """The headers that carry ``token`` (and its proof); https only, never in clear text."""
        scheme = url.partition(":")[0]
        if scheme.lower() != "https":
            raise ConfigError(f"refusing to send a bound token over {scheme}://, only https")
        if self._dpop is None:
            return {"Authorization": f"Bearer {token.access_token}"}
        return self._dpop.headers(token.access_token, method, url, body)

    def _retry(self, status: int, headers: Mapping[str, str], jti: str) -> bool:
        """Whether to send once more: a new nonce named (same token), or the token refused
        (forgotten, so the next ask gets a fresh one)."""
        challenges = headers.get("WWW-Authenticate", "")
        named = self._dpop is not None and self._dpop.learn(headers)
        if named and nonce_demanded(status, challenges):
            return True
        if token_refused(status, challenges):
            self._agent.forget(jti)
            return True
        return False


_TCHARS = r"[\w!#$%&'*+.^`|~-]+"
_ITEM = re.compile(
    rf'(?P<key>{_TCHARS})\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s,]*)|(?P<scheme>{_TCHARS})'
)


def challenge_error(challenges: str, scheme: str) -> str | None:
    """The ``error`` parameter of the ``scheme`` challenge in a WWW-Authenticate value."""
    current = ""
    for item in _ITEM.finditer(challenges):
        if item["scheme"]:
            current = item["scheme"].lower()
        elif item["key"] and item["key"].lower() == "error" and current == scheme.lower():
            value = item["value"]
            return re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith('"') else value
    return None


def token_refused(status: int, challenges: str) -> bool:
    """A 401 that says the token itself is no good: worth one retry with a fresh token."""
    return status == 401 and "invalid_token" in (
        challenge_error(challenges, "Bearer"),
        challenge_error(challenges, "DPoP"),
    )


def nonce_demanded(status: int, challenges: str) -> bool:
    """RFC 9449 section 9: a 401 asking for a proof with the nonce in ``DPoP-Nonce``."""
    return status == 401 and challenge_error(challenges, "DPoP") == "use_dpop_nonce"
