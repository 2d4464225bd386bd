"""The in-process world of the corpus, and how a verifier answers one attempt.

The in-process world is :class:`spiffebind.testing.forge.World` plus two more trust domains
(a federated look-alike of ours and one nobody federates with), verified with the same
settings and policy as the integration tests' daemon, plus a rule for federated agents.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from spiffebind.errors import TokenRejected
from spiffebind.policy import RuleEngine, parse_policy
from spiffebind.testing.attacks.kit import VALID, Attempt, Materials
from spiffebind.testing.forge import AGENT_ID, ISSUERS, NOW, SERVICE_ID, FixedClock, World, compact
from spiffebind.testing.pki import Authority
from spiffebind.token import (
    BundleSource,
    RevocationCheck,
    StaticBundles,
    Verifier,
    VerifierSettings,
)
from spiffebind.token.dpop import DpopRequest
from spiffebind.token.nonce import RotatingNonces

POLICY = """rules:
  - id: agents-search
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read", "search:write"]
    authorization_details_types: ["search"]
    max_ttl: 600
  - id: federated-agents-search
    clients: ["spiffe://other.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read"]
    max_ttl: 600
"""
"""What the session daemon of the integration tests allows, plus federated agents and
``search`` authorization details (so a request carrying them reaches minting)."""


@dataclass(frozen=True)
class InProcess:
    materials: Materials
    bundles: dict[str, list[x509.Certificate]]

    def verifier(
        self, *, bundles: BundleSource | None = None, revocation: RevocationCheck | None = None
    ) -> Verifier:
        """A fresh verifier (cold caches) over this world's bundles, clock and policy."""
        m = self.materials
        settings = VerifierSettings(ISSUERS, clock_skew=m.skew, max_lifetime=m.max_lifetime)
        return Verifier(
            settings,
            bundles=bundles or StaticBundles(self.bundles),
            clock=FixedClock(m.now),
            revocation=revocation,
            policy=RuleEngine(parse_policy(POLICY), m.max_lifetime),
            dpop_nonces=m.nonces if isinstance(m.nonces, RotatingNonces) else None,
        )

    def with_nonces(self) -> InProcess:
        """This world with a verifier that demands DPoP nonces (for ``DPOP_NONCE``)."""
        nonces = RotatingNonces(b"in-process DPoP nonce secret")
        return dataclasses.replace(
            self, materials=dataclasses.replace(self.materials, nonces=nonces)
        )


def in_process(world: World | None = None) -> InProcess:
    """Materials with every optional part, so every case of the corpus can run."""
    w = world or World.build()
    when = dt.datetime.fromtimestamp(NOW, dt.UTC)
    lookalike = Authority.root("examp1e.org", now=when)
    jwt_svid = compact(
        {"alg": "ES256", "kid": "jwt-authority-1", "typ": "JWT"},
        {"sub": AGENT_ID, "aud": [SERVICE_ID], "iat": NOW, "exp": NOW + 300},
        ec.generate_private_key(ec.SECP256R1()),
    )
    materials = Materials(
        clock=lambda: NOW,
        audience=SERVICE_ID,
        signer=w.signer,
        agent=w.agent,
        sibling=w.sibling,
        peer=w.service,
        anchor=w.root.root_cert,
        claims=w.claims(),
        rogue=w.rogue,
        stranger=Authority.root("example.org.attacker.test", now=when),
        jwt_svid=jwt_svid,
        ca=w.inter,
        root_ca=w.root,
        federated=w.other,
        lookalike=lookalike,
    )
    return InProcess(materials, {**w.bundles, lookalike.trust_domain: [lookalike.cert]})


def verdict(verifier: Verifier, m: Materials, attempt: Attempt) -> str:
    """The reason code the verifier gives (to the last send), or ``valid``."""
    presented = (m.agent.cert,) if attempt.presented is None else attempt.presented
    d = attempt.dpop
    dpop = DpopRequest(d.proof, d.method, d.uri, d.body_sha256) if d else None
    outcome = VALID
    for _ in range(d.sends if d else 1):
        try:
            verifier.verify(
                attempt.token,
                audience=attempt.audience or m.audience,
                presented_chain=presented,
                required_scopes=attempt.scopes,
                dpop=dpop,
            )
            outcome = VALID
        except TokenRejected as exc:
            outcome = exc.reason.value
    return outcome
