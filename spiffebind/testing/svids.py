"""An agent's X.509-SVID and key as SPIRE hands them to one uid/gid, for in-process signing.

Tests that play several agents register each under its own gid (so that neither the daemon
nor the pytest process is served their SVIDs), fetch each identity once as that gid with
``spire-agent api fetch x509 -write``, and sign requests with it in-process.
"""

from __future__ import annotations

from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import SigningIdentity


def fetch_identity(bed: SpireTestBed, gid: int, uid: int = 0) -> SigningIdentity:
    """The first SVID, with its key, the agent serves ``uid``/``gid`` right now."""
    served = bed.agent.fetch_x509_svids(uid=uid, gid=gid)
    if not served:
        raise RuntimeError(f"the SPIRE agent serves no X.509-SVID to uid {uid} gid {gid}")
    return served[0]
