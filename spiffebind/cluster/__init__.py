"""Cluster-wide revocation over NATS JetStream key-value (docs/cluster.md)."""

from spiffebind.cluster.entry import ENTRY_TYP, RevocationEntry, entry_key, read_entry, sign_entry
from spiffebind.cluster.settings import ClusterSettings

__all__ = [
    "ENTRY_TYP",
    "ClusterSettings",
    "RevocationEntry",
    "entry_key",
    "read_entry",
    "sign_entry",
]
