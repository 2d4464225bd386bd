"""The asyncio agent SDK: the same session logic as :class:`AgentClient`, awaited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import grpc

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.client import core
from spiffebind.client.channel import open_aio_channel
from spiffebind.client.credentials import Credentials
from spiffebind.client.errors import from_rpc_error
from spiffebind.service.params import ACCESS_TOKEN_TYPE
from spiffebind.token import SigningIdentity

R = TypeVar("R")


class AsyncAgentClient:
    def __init__(
        self, socket: str | Path | None = None, *, credentials: Credentials, timeout: float = 5.0
    ) -> None:
        self._channel = open_aio_channel(socket)
        self._stub = spiffebind_pb2_grpc.TokenServiceStub(self._channel)
        self._session = core.Session(credentials)
        self._timeout = timeout

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(grace=None)

    async def _call(self, method: Callable[..., Awaitable[R]], request: Any) -> R:
        try:
            return await method(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    async def info(self) -> pb.GetInfoResponse:
        info = await self._call(self._stub.GetInfo, pb.GetInfoRequest())
        self._session.daemon_id = info.spiffe_id or None
        return info

    async def _proof(self, params: Mapping[str, Any]) -> tuple[str, str]:
        if self._session.daemon_id is None:
            await self.info()
        return self._session.proof(params)

    async def token(
        self,
        audience: str | Sequence[str],
        scopes: Sequence[str] = (),
        *,
        ttl: int | None = None,
        txn: str | None = None,
        authorization_details: Sequence[Mapping[str, Any]] | None = None,
        may_act: str | None = None,
    ) -> core.BoundToken:
        """See :meth:`AgentClient.token`."""
        request = core.TokenRequest.of(
            audience,
            scopes,
            ttl=ttl,
            txn=txn,
            authorization_details=authorization_details,
            may_act=may_act,
        )
        cached = self._session.cached(request)
        if cached is not None:
            return cached
        proof, x5t = await self._proof(request.params())
        response = await self._call(
            self._stub.IssueToken, pb.IssueTokenRequest(signed_request=proof)
        )
        return self._session.keep(request, response, x5t)

    async def exchange(
        self,
        subject_token: str,
        audience: str | Sequence[str],
        scopes: Sequence[str] = (),
        *,
        subject_token_type: str = ACCESS_TOKEN_TYPE,
        ttl: int | None = None,
        txn: str | None = None,
        authorization_details: Sequence[Mapping[str, Any]] | None = None,
        may_act: str | None = None,
    ) -> core.BoundToken:
        """See :meth:`AgentClient.exchange`."""
        request = core.TokenRequest.of(
            audience,
            scopes,
            ttl=ttl,
            txn=txn,
            authorization_details=authorization_details,
            may_act=may_act,
        )
        proof, x5t = await self._proof(request.exchange_params(subject_token, subject_token_type))
        exchange = pb.ExchangeTokenRequest(signed_request=proof, subject_token=subject_token)
        response = await self._call(self._stub.ExchangeToken, exchange)
        return core.BoundToken.from_response(response, x5t)

    def signing(self) -> SigningIdentity:
        """This agent's SVID and key now: what the HTTP adapters sign DPoP proofs with."""
        return self._session.credentials.signing()

    def forget(self, jti: str) -> None:
        """See :meth:`AgentClient.forget`."""
        self._session.cache.drop(jti=jti)

    async def revoke(
        self, *, jti: str | None = None, txn: str | None = None
    ) -> pb.RevokeTokenResponse:
        """See :meth:`AgentClient.revoke`."""
        self._session.cache.drop(jti=jti, txn=txn)
        proof, _ = await self._proof(core.revoke_params(jti, txn))
        return await self._call(self._stub.RevokeToken, pb.RevokeTokenRequest(signed_request=proof))
