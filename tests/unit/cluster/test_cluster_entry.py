"""Revocation entries: what a peer daemon signs applies; everything else is refused with a
reason, one row per defect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

import pytest

from spiffebind.cluster.entry import ENTRY_TYP, RevocationEntry, entry_key, read_entry, sign_entry
from spiffebind.errors import Reason, RejectedError
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.pki import Authority
from spiffebind.token.jose import b64url_encode, sign_compact
from spiffebind.token.svid import SigningIdentity

PEER = "spiffe://example.org/spiffebind/node-a"
OUTSIDER = "spiffe://example.org/agents/mallory"
ISSUERS = (IdPattern.parse("spiffe://example.org/spiffebind/*"),)
ROOT = Authority.root()
NOW = ROOT.now.timestamp()


def _identity(spiffe_id: str, **kwargs: object) -> SigningIdentity:
    issued = ROOT.issue(spiffe_id, **kwargs)  # type: ignore[arg-type]
    return SigningIdentity(tuple(issued.chain), issued.key)


NODE = _identity(PEER)
ENTRY = RevocationEntry("jti", "abc123", PEER, round(NOW, 3), int(NOW) + 600, OUTSIDER)


def _read(key: str, value: str | bytes, now: float = NOW) -> RevocationEntry:
    raw = value.encode() if isinstance(value, str) else value
    return read_entry(
        key, raw, bundles={"example.org": [ROOT.cert]}, issuers=ISSUERS, now=now, skew=30
    )


def test_keys_are_the_jti_or_the_hash_of_the_txn() -> None:
    assert entry_key("jti", "abc123") == "jti.abc123"
    hashed = entry_key("txn", "task/with spaces")
    assert hashed.startswith("txn.")
    assert len(hashed) == 4 + 43
    assert hashed != entry_key("txn", "task/with-spaces")


def test_ownership_keys_name_the_task_and_the_member() -> None:
    owner = entry_key("task", "t1", OUTSIDER)
    assert owner == entry_key("task", "t1")  # one owner key per task, whoever owns it
    assert owner.startswith("task.")
    member = entry_key("member", "t1", OUTSIDER)
    assert member.startswith(f"member.{owner.removeprefix('task.')}.")
    assert member != entry_key("member", "t1", PEER)


@pytest.mark.parametrize("kind", ["jti", "txn", "task", "member"])
def test_a_peer_daemons_entry_reads_back_as_signed(kind: str) -> None:
    entry = replace(ENTRY, kind=kind)  # type: ignore[arg-type]
    assert _read(entry.key, sign_entry(entry, NODE)) == entry


def test_entry_outlives_the_svid_that_signed_it() -> None:
    """Validated at its iat: a revocation lasts longer than a short-lived SVID."""
    short = _identity(PEER, ttl=dt.timedelta(minutes=5))
    value = sign_entry(ENTRY, short)
    assert _read(ENTRY.key, value, now=NOW + 3600) == ENTRY


def test_a_daemon_signs_only_entries_naming_itself() -> None:
    with pytest.raises(ValueError, match="iss"):
        sign_entry(replace(ENTRY, iss=OUTSIDER), NODE)


def _outsider() -> tuple[str, str]:
    entry = replace(ENTRY, iss=OUTSIDER)
    me = _identity(OUTSIDER)
    header = {"alg": me.alg, "typ": ENTRY_TYP, "x5c": list(me.x5c)}
    return ENTRY.key, sign_compact(header, entry.claims(), me.key)


def _foreign_root() -> tuple[str, str]:
    other = Authority.root()
    issued = other.issue(PEER)
    return ENTRY.key, sign_entry(ENTRY, SigningIdentity(tuple(issued.chain), issued.key))


def _tampered() -> tuple[str, str]:
    header, _, signature = sign_entry(ENTRY, NODE).split(".")
    other = sign_entry(replace(ENTRY, value="other"), NODE).split(".")[1]
    return ENTRY.key, f"{header}.{other}.{signature}"


def _claims(**changes: object) -> Callable[[], tuple[str, str]]:
    def build() -> tuple[str, str]:
        claims = {**ENTRY.claims(), **changes}
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": NODE.alg, "typ": ENTRY_TYP, "x5c": list(NODE.x5c)}
        return ENTRY.key, sign_compact(header, claims, NODE.key)

    return build


def _wrong_typ() -> tuple[str, str]:
    header = {"alg": NODE.alg, "typ": "at+jwt", "x5c": list(NODE.x5c)}
    return ENTRY.key, sign_compact(header, ENTRY.claims(), NODE.key)


def _alg_none() -> tuple[str, str]:
    payload = sign_entry(ENTRY, NODE).split(".")[1]
    return ENTRY.key, b64url_encode(b'{"alg":"none","typ":"' + ENTRY_TYP.encode() + b'"}') + (
        f".{payload}."
    )


DEFECTS: dict[str, tuple[Callable[[], tuple[str, str]], Reason]] = {
    "signer-outside-issuer-patterns": (_outsider, Reason.UNTRUSTED_ISSUER),
    "signer-of-another-root": (_foreign_root, Reason.UNTRUSTED_SIGNER),
    "payload-swapped": (_tampered, Reason.BAD_SIGNATURE),
    "garbage-value": (lambda: (ENTRY.key, "not a jws"), Reason.MALFORMED),
    "empty-value": (lambda: (ENTRY.key, ""), Reason.MALFORMED),
    "stored-under-another-key": (
        lambda: ("jti.other", sign_entry(ENTRY, NODE)),
        Reason.MALFORMED,
    ),
    "ownership-entry-under-a-revocation-key": (
        lambda: (ENTRY.key, sign_entry(replace(ENTRY, kind="task"), NODE)),
        Reason.MALFORMED,
    ),
    "iss-not-the-signer": (
        _claims(iss="spiffe://example.org/spiffebind/node-b"),
        Reason.ISSUER_MISMATCH,
    ),
    "kind-unknown": (_claims(kind="everything"), Reason.MALFORMED),
    "value-missing": (_claims(jti=None), Reason.MALFORMED),
    "extra-claim": (_claims(scope="all"), Reason.MALFORMED),
    "exp-not-after-iat": (_claims(exp=int(NOW) - 1), Reason.MALFORMED),
    "iat-in-the-future": (_claims(iat=NOW + 3600), Reason.NOT_YET_VALID),
    "iat-a-string": (_claims(iat="now"), Reason.MALFORMED),
    "wrong-typ": (_wrong_typ, Reason.WRONG_TYPE),
    "alg-none": (_alg_none, Reason.UNSUPPORTED_ALG),
}


@pytest.mark.parametrize("defect", DEFECTS, ids=list(DEFECTS))
def test_defective_entries_are_refused_with_their_reason(defect: str) -> None:
    build, reason = DEFECTS[defect]
    key, value = build()
    with pytest.raises(RejectedError) as caught:
        _read(key, value)
    assert caught.value.reason is reason
