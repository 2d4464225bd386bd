"""Envoy's ``CheckRequest`` to :class:`HttpCheck` and a :class:`Verdict` to ``CheckResponse``.

Only message shapes live here (generated code from the PyPI ``xds-protos`` package); what the
request means is decided in :mod:`spiffebind.service.ext_authz`.
"""

from __future__ import annotations

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2 as authz
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

from spiffebind.service.ext_authz import HttpCheck, Verdict

# Both readings of a HeaderValueOption (old ``append`` unset, new ``append_action``) overwrite:
# a client must never smuggle its own x-spiffebind-* value next to ours.
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


def _headers(http: Any) -> dict[str, str]:
    """``headers``, or ``header_map`` when Envoy runs with ``encode_raw_headers``; repeated
    names are joined with commas, as Envoy does itself."""
    if http.headers:
        return {name.lower(): value for name, value in http.headers.items()}
    joined: dict[str, list[str]] = {}
    for header in http.header_map.headers:
        value = header.raw_value.decode("utf-8", "replace") if header.raw_value else header.value
        joined.setdefault(header.key.lower(), []).append(value)
    return {name: ",".join(values) for name, values in joined.items()}


def http_check(request: Any) -> HttpCheck:
    """The parts of an ``envoy.service.auth.v3.CheckRequest`` a decision needs."""
    attributes = request.attributes
    http = attributes.request.http
    return HttpCheck(
        method=http.method,
        path=http.path,
        host=http.host,
        headers=_headers(http),
        certificate=attributes.source.certificate,
        context=dict(attributes.context_extensions),
        scheme=http.scheme or "https",
        body=http.raw_body or http.body.encode("utf-8"),
    )


_DENIAL_CODES = {401: code_pb2.UNAUTHENTICATED, 503: code_pb2.UNAVAILABLE}


def _option(name: str, value: str) -> Any:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=name, value=value), append_action=_OVERWRITE
    )


def check_response(verdict: Verdict) -> Any:
    """OK with upstream headers, or a denial Envoy answers the client with directly."""
    if verdict.allowed:
        return authz.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=authz.OkHttpResponse(
                headers=[_option(name, value) for name, value in verdict.set_headers],
                headers_to_remove=list(verdict.remove_headers),
                response_headers_to_add=[
                    _option(name, value) for name, value in verdict.response_headers
                ],
            ),
        )
    code = _DENIAL_CODES.get(verdict.status, code_pb2.PERMISSION_DENIED)
    challenge = [("www-authenticate", verdict.challenge)] if verdict.challenge else []
    headers = [_option(name, value) for name, value in (*challenge, *verdict.deny_headers)]
    return authz.CheckResponse(
        status=status_pb2.Status(code=code, message=verdict.reason),
        denied_response=authz.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=verdict.status),
            headers=headers,
            body=f"{verdict.reason}\n",
        ),
    )
