"""The timing histogram's method label: a closed set, with the health check kept apart from
ext_authz's Check."""

from __future__ import annotations

import pytest

from spiffebind.api.interceptors import method_label
from spiffebind.observe.metrics import METHODS


@pytest.mark.parametrize(
    ("full_method", "label"),
    [
        ("/spiffebind.v1.TokenService/IssueToken", "IssueToken"),
        ("/envoy.service.auth.v3.Authorization/Check", "Check"),
        ("/grpc.health.v1.Health/Check", "HealthCheck"),
    ],
)
def test_each_served_method_has_its_own_label(full_method: str, label: str) -> None:
    assert method_label(full_method) == label
    assert label in METHODS
