"""Durable state under ``--state-dir``: what must survive a restart of the daemon."""

from spiffebind.state.revocations import RevocationStore

__all__ = ["RevocationStore"]
