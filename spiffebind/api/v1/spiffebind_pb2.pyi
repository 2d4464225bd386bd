from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("spiffe_id", "trust_domains", "version", "default_ttl_seconds", "max_ttl_seconds", "algorithms", "ready", "not_ready_reason", "svid_expires_at", "policy_digest", "policy_rules", "revocations_held", "uptime_seconds", "request_window_seconds")
    SPIFFE_ID_FIELD_NUMBER: _ClassVar[int]
    TRUST_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    NOT_READY_REASON_FIELD_NUMBER: _ClassVar[int]
    SVID_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    POLICY_RULES_FIELD_NUMBER: _ClassVar[int]
    REVOCATIONS_HELD_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    spiffe_id: str
    trust_domains: _containers.RepeatedScalarFieldContainer[str]
    version: str
    default_ttl_seconds: int
    max_ttl_seconds: int
    algorithms: _containers.RepeatedScalarFieldContainer[str]
    ready: bool
    not_ready_reason: str
    svid_expires_at: int
    policy_digest: str
    policy_rules: int
    revocations_held: int
    uptime_seconds: float
    request_window_seconds: int
    def __init__(self, spiffe_id: _Optional[str] = ..., trust_domains: _Optional[_Iterable[str]] = ..., version: _Optional[str] = ..., default_ttl_seconds: _Optional[int] = ..., max_ttl_seconds: _Optional[int] = ..., algorithms: _Optional[_Iterable[str]] = ..., ready: _Optional[bool] = ..., not_ready_reason: _Optional[str] = ..., svid_expires_at: _Optional[int] = ..., policy_digest: _Optional[str] = ..., policy_rules: _Optional[int] = ..., revocations_held: _Optional[int] = ..., uptime_seconds: _Optional[float] = ..., request_window_seconds: _Optional[int] = ...) -> None: ...

class IssueTokenRequest(_message.Message):
    __slots__ = ("signed_request",)
    SIGNED_REQUEST_FIELD_NUMBER: _ClassVar[int]
    signed_request: str
    def __init__(self, signed_request: _Optional[str] = ...) -> None: ...

class IssueTokenResponse(_message.Message):
    __slots__ = ("access_token", "token_type", "expires_in", "expires_at", "scope", "jti", "txn", "audience", "policy_rule")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    JTI_FIELD_NUMBER: _ClassVar[int]
    TXN_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    POLICY_RULE_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    token_type: str
    expires_in: int
    expires_at: int
    scope: str
    jti: str
    txn: str
    audience: _containers.RepeatedScalarFieldContainer[str]
    policy_rule: str
    def __init__(self, access_token: _Optional[str] = ..., token_type: _Optional[str] = ..., expires_in: _Optional[int] = ..., expires_at: _Optional[int] = ..., scope: _Optional[str] = ..., jti: _Optional[str] = ..., txn: _Optional[str] = ..., audience: _Optional[_Iterable[str]] = ..., policy_rule: _Optional[str] = ...) -> None: ...

class CallContext(_message.Message):
    __slots__ = ("method", "path", "tool")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    method: str
    path: str
    tool: str
    def __init__(self, method: _Optional[str] = ..., path: _Optional[str] = ..., tool: _Optional[str] = ...) -> None: ...

class VerifyTokenRequest(_message.Message):
    __slots__ = ("token", "audience", "peer_certificates", "required_scopes", "context")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    PEER_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SCOPES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    token: str
    audience: str
    peer_certificates: _containers.RepeatedScalarFieldContainer[bytes]
    required_scopes: _containers.RepeatedScalarFieldContainer[str]
    context: CallContext
    def __init__(self, token: _Optional[str] = ..., audience: _Optional[str] = ..., peer_certificates: _Optional[_Iterable[bytes]] = ..., required_scopes: _Optional[_Iterable[str]] = ..., context: _Optional[_Union[CallContext, _Mapping]] = ...) -> None: ...

class VerifyTokenResponse(_message.Message):
    __slots__ = ("valid", "reason", "claims_json", "chain")
    VALID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_JSON_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    reason: str
    claims_json: str
    chain: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, valid: _Optional[bool] = ..., reason: _Optional[str] = ..., claims_json: _Optional[str] = ..., chain: _Optional[_Iterable[str]] = ...) -> None: ...

class IntrospectTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class IntrospectTokenResponse(_message.Message):
    __slots__ = ("active", "sub", "client_id", "scope", "aud", "exp", "iat", "jti", "txn", "iss", "cnf_x5t_s256", "act", "token_type")
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    SUB_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    AUD_FIELD_NUMBER: _ClassVar[int]
    EXP_FIELD_NUMBER: _ClassVar[int]
    IAT_FIELD_NUMBER: _ClassVar[int]
    JTI_FIELD_NUMBER: _ClassVar[int]
    TXN_FIELD_NUMBER: _ClassVar[int]
    ISS_FIELD_NUMBER: _ClassVar[int]
    CNF_X5T_S256_FIELD_NUMBER: _ClassVar[int]
    ACT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    active: bool
    sub: str
    client_id: str
    scope: str
    aud: _containers.RepeatedScalarFieldContainer[str]
    exp: int
    iat: int
    jti: str
    txn: str
    iss: str
    cnf_x5t_s256: str
    act: _containers.RepeatedScalarFieldContainer[str]
    token_type: str
    def __init__(self, active: _Optional[bool] = ..., sub: _Optional[str] = ..., client_id: _Optional[str] = ..., scope: _Optional[str] = ..., aud: _Optional[_Iterable[str]] = ..., exp: _Optional[int] = ..., iat: _Optional[int] = ..., jti: _Optional[str] = ..., txn: _Optional[str] = ..., iss: _Optional[str] = ..., cnf_x5t_s256: _Optional[str] = ..., act: _Optional[_Iterable[str]] = ..., token_type: _Optional[str] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("signed_request",)
    SIGNED_REQUEST_FIELD_NUMBER: _ClassVar[int]
    signed_request: str
    def __init__(self, signed_request: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("newly_revoked", "jti", "txn", "expires_at")
    NEWLY_REVOKED_FIELD_NUMBER: _ClassVar[int]
    JTI_FIELD_NUMBER: _ClassVar[int]
    TXN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    newly_revoked: bool
    jti: str
    txn: str
    expires_at: int
    def __init__(self, newly_revoked: _Optional[bool] = ..., jti: _Optional[str] = ..., txn: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...
