"""An agent's X.509-SVID and key as SPIRE hands them to one uid/gid, for in-process signing.

Tests that play several agents register each under its own gid (so that neither the daemon
nor the pytest process is served their SVIDs), fetch each identity once as that gid with
``spire-agent api fetch x509 -write``, and sign requests with it in-process.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from spiffebind.client.credentials import from_files
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.spire_processes import as_ids
from spiffebind.token import SigningIdentity


def fetch_identity(bed: SpireTestBed, gid: int, uid: int = 0) -> SigningIdentity:
    """The SVID and key the agent serves ``uid``/``gid`` right now."""
    out = Path(tempfile.mkdtemp(prefix="sbf", dir="/tmp"))
    out.chmod(0o777)
    try:
        subprocess.run(
            [
                str(bed.agent.binary),
                *("api", "fetch", "x509", "-write", str(out)),
                *("-socketPath", str(bed.agent.socket_path)),
            ],
            check=True,
            capture_output=True,
            timeout=30,
            **as_ids(uid, gid),
        )
        return from_files(out / "svid.0.pem", out / "svid.0.key").signing()
    finally:
        shutil.rmtree(out, ignore_errors=True)
