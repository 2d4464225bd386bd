"""Durable state under ``--state-dir``: what must survive a restart of the daemon."""

from spiffebind.state.ledger import IssuedLedger, IssuedRecord
from spiffebind.state.revocations import RevocationStore

__all__ = ["IssuedLedger", "IssuedRecord", "RevocationStore"]
