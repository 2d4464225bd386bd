"""spiffe-helper style files as an identity source: SVID chain, key, and one bundle per domain.

Writers (spiffe-helper, cert-manager, a human with ``cp``) replace these files in any order
and not always atomically, so a reload is all or nothing: every file is read again and the
set is used only if it parses and the key matches the leaf. Otherwise the previous identity
stays and the refusal is logged; the next change is tried afresh. Changes are noticed by
polling (inode, size, mtime, ctime), which also catches a rename over the file.

Files that are not there yet are waited for (not ready, naming them): at pod start the
writer may come after the daemon. Files that are there but wrong stop start-up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from spiffebind.clock import SYSTEM_CLOCK, Clock
from spiffebind.errors import ConfigError, IdentityError
from spiffebind.identity.pem import read_certificates, read_private_key
from spiffebind.identity.source import BaseSource, Identity
from spiffebind.spiffeid import parse_trust_domain

_Stamp = tuple[tuple[int, int, int, int, int] | None, ...]


class FileSource(BaseSource):
    """Identity from PEM files; construction reads them once if all are there (ConfigError
    names a bad one)."""

    def __init__(
        self,
        svid: Path,
        key: Path,
        bundles: Mapping[str, Path],
        *,
        clock: Clock = SYSTEM_CLOCK,
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(clock)
        try:
            self._bundles = {parse_trust_domain(td): Path(p) for td, p in bundles.items()}
        except ValueError as exc:
            raise ConfigError(f"bundle: {exc}") from None
        self._svid, self._key = Path(svid), Path(key)
        self._paths = (self._svid, self._key, *self._bundles.values())
        self._interval = poll_interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="spiffebind-files", daemon=True)
        self._stamp = self._fingerprint()
        missing = [
            str(path) for path, seen in zip(self._paths, self._stamp, strict=True) if not seen
        ]
        if missing:
            self._report("files", f"waiting for {', '.join(missing)}")
            return
        try:
            self._publish(self._load())
        except IdentityError as exc:
            raise ConfigError(str(exc)) from None

    def start(self) -> None:
        if not self._thread.is_alive() and not self._stopped.is_set():
            self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(self._interval + 5.0)

    def _poll(self) -> None:
        while not self._stopped.wait(self._interval):
            stamp = self._fingerprint()
            if stamp == self._stamp:
                continue
            self._stamp = stamp
            try:
                self._publish(self._load())
            except IdentityError as exc:
                kept = "; keeping the previous SVID" if self._held() else ""
                self._report("files", f"{exc}{kept}")
            else:
                self._report("files", None)

    def _fingerprint(self) -> _Stamp:
        return tuple(_stat(p) for p in self._paths)

    def _load(self) -> Identity:
        """Every file read and checked together; IdentityError names the file at fault."""
        chain = read_certificates(self._svid)
        private_key = read_private_key(self._key)
        bundles = {td: read_certificates(path) for td, path in self._bundles.items()}
        try:
            return Identity(chain=chain, private_key=private_key, x509_bundles=bundles)
        except IdentityError as exc:
            raise IdentityError(f"{self._svid} with key {self._key}: {exc}") from None


def _stat(path: Path) -> tuple[int, int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
