"""One scope grammar: what a policy may grant, a signed request may ask for and an ext_authz
route may require (a policy could once grant a 200-character scope no request could ask for)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from spiffebind.errors import ConfigError, PolicyError, RequestRejected
from spiffebind.policy import parse_policy
from spiffebind.service.ext_authz_routes import parse_routes
from spiffebind.service.params import issue_params

SEARCH = "spiffe://example.org/tools/search"


def _policy(scope: str) -> object:
    return parse_policy(
        f"rules:\n  - id: r1\n    clients: ['spiffe://example.org/a/*']\n"
        f"    audiences: ['{SEARCH}']\n    scopes: ['{scope}']\n    max_ttl: 300\n"
    )


def _request(scope: str) -> object:
    return issue_params({"op": "issue", "audience": SEARCH, "scope": scope})


def _route(scope: str) -> object:
    return parse_routes([{"prefix": "/s/", "audience": SEARCH, "scopes": [scope]}])


PLACES: dict[str, tuple[Callable[[str], object], type[Exception]]] = {
    "policy": (_policy, PolicyError),
    "signed-request": (_request, RequestRejected),
    "ext-authz-route": (_route, ConfigError),
}


@pytest.mark.parametrize("place", PLACES)
def test_the_longest_scope_is_the_same_everywhere(place: str) -> None:
    parse, refused = PLACES[place]
    parse("s" * 256)
    with pytest.raises(refused, match="scope"):
        parse("s" * 257)
