"""The blocking agent SDK: bound tokens for tasks, cached and renewed, and revocation.

Ten lines of agent code::

    from spiffebind.client import AgentClient, from_workload_api

    with AgentClient(credentials=from_workload_api("unix:///run/spire/agent.sock")) as agent:
        token = agent.token("spiffe://example.org/tools/search", ["search:read"], txn="task-42")
        call_tool(token.access_token)           # over mTLS with the same SVID
        agent.revoke(txn="task-42")             # the task is over: every token of it dies
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import grpc

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.client import core
from spiffebind.client.channel import open_channel
from spiffebind.client.credentials import Credentials
from spiffebind.client.errors import from_rpc_error
from spiffebind.service.params import ACCESS_TOKEN_TYPE
from spiffebind.token import SigningIdentity

R = TypeVar("R")


class AgentClient:
    def __init__(
        self, socket: str | Path | None = None, *, credentials: Credentials, timeout: float = 5.0
    ) -> None:
        self._channel = open_channel(socket)
        self._stub = spiffebind_pb2_grpc.TokenServiceStub(self._channel)
        self._session = core.Session(credentials)
        self._timeout = timeout

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: Callable[..., R], request: Any) -> R:
        try:
            return method(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def info(self) -> pb.GetInfoResponse:
        info = self._call(self._stub.GetInfo, pb.GetInfoRequest())
        self._session.daemon_id = info.spiffe_id or None
        return info

    def _proof(self, params: Mapping[str, Any]) -> tuple[str, str]:
        if self._session.daemon_id is None:
            self.info()
        return self._session.proof(params)

    def token(
        self,
        audience: str | Sequence[str],
        scopes: Sequence[str] = (),
        *,
        ttl: int | None = None,
        txn: str | None = None,
        authorization_details: Sequence[Mapping[str, Any]] | None = None,
        may_act: str | None = None,
    ) -> core.BoundToken:
        """A token for this request: from the cache while fresh and bound to our current SVID."""
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
        proof, x5t = self._proof(request.params())
        response = self._call(self._stub.IssueToken, pb.IssueTokenRequest(signed_request=proof))
        return self._session.keep(request, response, x5t)

    def exchange(
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
        """A token for another agent's token (delegation) or an upstream OAuth2 token,
        narrowed and bound to this agent (RFC 8693); never cached, as each hop is one-off.

        Without ``scopes`` (or ``authorization_details``) the subject token's are kept;
        ``may_act`` names the one agent allowed to exchange the result further.
        """
        request = core.TokenRequest.of(
            audience,
            scopes,
            ttl=ttl,
            txn=txn,
            authorization_details=authorization_details,
            may_act=may_act,
        )
        proof, x5t = self._proof(request.exchange_params(subject_token, subject_token_type))
        exchange = pb.ExchangeTokenRequest(signed_request=proof, subject_token=subject_token)
        response = self._call(self._stub.ExchangeToken, exchange)
        return core.BoundToken.from_response(response, x5t)

    def signing(self) -> SigningIdentity:
        """This agent's SVID and key now: what the HTTP adapters sign DPoP proofs with."""
        return self._session.credentials.signing()

    def forget(self, jti: str) -> None:
        """Drop a cached token without revoking it, e.g. one a tool refused (``401
        invalid_token``): the next :meth:`token` call asks the daemon afresh."""
        self._session.cache.drop(jti=jti)

    def revoke(self, *, jti: str | None = None, txn: str | None = None) -> pb.RevokeTokenResponse:
        """Revoke one token or a whole task; cached tokens it covers are dropped first."""
        self._session.cache.drop(jti=jti, txn=txn)
        proof, _ = self._proof(core.revoke_params(jti, txn))
        return self._call(self._stub.RevokeToken, pb.RevokeTokenRequest(signed_request=proof))
