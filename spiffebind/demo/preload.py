"""Everything a demo worker will import, loaded while it is still root; nothing after.

A worker drops to its own uid once Python is up, and from then on it may be unable to read
the interpreter, the virtualenv or the checkout (all three live under a mode-0700 ``/root``
for a newcomer who cloned there). Libraries import lazily (gRPC loads ``grpc._channel`` on
the first channel, the standard library its codecs on first use), so the worker loads whole
packages before the drop, and afterwards :func:`forbid_imports` turns any import of a module
not yet loaded into an ImportError that names it. A miss then fails the demo and its tests
the same way wherever the checkout lives, instead of only under ``/root``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import pkgutil
import sys
from collections.abc import Iterable, Sequence
from types import ModuleType

PACKAGES = (
    "spiffebind",
    "grpc",
    "grpc_health",
    "spiffe",
    "cryptography",
    "jwt",
    "google.protobuf",
    "encodings",
    "email",
    "http",
    "urllib",
    "json",
    "logging",
    "concurrent",
)
"""Loaded with every submodule: the SDK, its libraries, and the standard library's lazy ones."""

SKIPPED = ("spiffebind.testing",)
"""Test-bed code no worker runs (it imports dev-only libraries)."""


def load_everything(packages: Iterable[str] = PACKAGES) -> int:
    """Import each package and all its submodules; how many modules are loaded in all."""
    for name in packages:
        _load_tree(name)
    return len(sys.modules)


def _load_tree(name: str) -> None:
    """``name`` and everything below it. A module that cannot be imported here (an optional
    dependency not installed, a codec of another platform) could not be imported after the
    drop either, so it is passed over; ``__main__`` modules are never run."""
    if name.endswith(".__main__") or name.startswith(SKIPPED):
        return
    try:
        module = importlib.import_module(name)
    except (ImportError, OSError, RuntimeError):
        return
    path: Sequence[str] | None = getattr(module, "__path__", None)
    for info in pkgutil.iter_modules(path or []):
        _load_tree(f"{name}.{info.name}")


class _LoadedOnly(importlib.abc.MetaPathFinder):
    """Refuses to find any module: those already in ``sys.modules`` never reach a finder."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        raise ImportError(
            f"{fullname} was first imported after the worker dropped root; "
            "add its package to spiffebind.demo.preload.PACKAGES",
            name=fullname,
        )


def forbid_imports() -> None:
    """From now on only modules already loaded can be imported."""
    sys.meta_path.insert(0, _LoadedOnly())
