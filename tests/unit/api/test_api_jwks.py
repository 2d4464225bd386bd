"""/jwks.json holds the current key and, until its certificate expires, the previous one."""

from __future__ import annotations

import datetime as dt
import json

from spiffebind.api.jwks import PublishedKeys
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.pki import Authority
from spiffebind.token import SigningIdentity

NOW = 1_900_000_000
ID = "spiffe://example.org/spiffebind/node-1"


def _identity(root: Authority, ttl: dt.timedelta) -> SigningIdentity:
    issued = root.issue(ID, ttl=ttl)
    return SigningIdentity(tuple(issued.chain), issued.key)


def _kids(keys: PublishedKeys) -> list[str]:
    return [k["kid"] for k in json.loads(keys.document())["keys"]]


def test_rotation_keeps_the_previous_key_until_it_expires() -> None:
    root = Authority.root("example.org", now=dt.datetime.fromtimestamp(NOW, dt.UTC))
    clock = ManualClock(NOW)
    keys = PublishedKeys(clock)
    assert _kids(keys) == []
    first = _identity(root, dt.timedelta(minutes=5))
    keys.update(first)
    keys.update(first)  # the same SVID again (a bundle update) is no rotation
    assert _kids(keys) == [first.kid]
    second = _identity(root, dt.timedelta(minutes=30))
    keys.update(second)
    assert _kids(keys) == [second.kid, first.kid]
    clock.t = first.chain[0].not_valid_after_utc.timestamp()
    assert _kids(keys) == [second.kid]
    third = _identity(root, dt.timedelta(minutes=60))
    keys.update(third)
    assert _kids(keys) == [third.kid, second.kid]
