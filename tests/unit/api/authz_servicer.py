"""An ext_authz servicer over a verifier that trusts nothing, for the listener tests: every
check is answered (a denial), audited into a memory sink and counted."""

from __future__ import annotations

from spiffebind.api.ext_authz import ExtAuthzServicer
from spiffebind.observe.audit import AuditLog, MemorySink
from spiffebind.observe.decisions import Decisions
from spiffebind.observe.metrics import Metrics
from spiffebind.service.ext_authz import ExtAuthz
from spiffebind.service.ext_authz_routes import ExtAuthzSettings, Route
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.clock import ManualClock
from spiffebind.token import StaticBundles, Verifier, VerifierSettings


def servicer(metrics: Metrics, sink: MemorySink) -> ExtAuthzServicer:
    verifier = Verifier(
        VerifierSettings((IdPattern.parse("spiffe://example.org/spiffebind/*"),)),
        bundles=StaticBundles({}),
        clock=ManualClock(1_900_000_000.0),
    )
    routes = (Route("spiffe://example.org/tools/search", prefix="/search/", tool="search"),)
    authz = ExtAuthz(verifier, ExtAuthzSettings(routes=routes))
    return ExtAuthzServicer(authz, Decisions(metrics, AuditLog(sink), lambda: "digest"))
