"""The ``spiffebind`` command line; one module per command group (see docs in cli.md)."""

from __future__ import annotations

from spiffebind.cli.main import main

__all__ = ["main"]
