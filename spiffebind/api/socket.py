"""Unix-socket lifecycle for gRPC servers: claim the path safely, set its mode, let it go.

grpcio binds the path itself and cannot adopt an inherited descriptor, so these helpers run
around ``add_insecure_port``: a stale socket left by a crash is replaced, but a live daemon
on the same path is never stolen from, and a socket is only ever removed by the server
that created that very file.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from spiffebind.errors import ConfigError

_MAX_SUN_PATH = 107
_SPARE_SUFFIX = ".new"
MAX_PATH_BYTES = _MAX_SUN_PATH - len(_SPARE_SUFFIX)
"""The longest socket path: grpcio binds ``PATH.new`` first (see ``server.listen``)."""

FileId = tuple[int, int]
"""``(st_dev, st_ino)``: tells our socket file from one bound later at the same path."""


def claim(path: Path) -> Path:
    """Make ``path`` and its spare name bindable; the spare name.

    Creates the parent, removes a stale socket, refuses a live one.
    """
    if len(os.fsencode(path)) > MAX_PATH_BYTES:
        raise ConfigError(f"socket path {path} is longer than {MAX_PATH_BYTES} bytes")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    except OSError as exc:
        raise ConfigError(f"socket directory {path.parent}: {exc.strerror}") from None
    spare = path.with_name(path.name + _SPARE_SUFFIX)
    for name in (path, spare):
        _clear(name)
    return spare


def _clear(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"socket path {path} exists and is not a socket")
    if is_live(path):
        raise ConfigError(f"socket {path} is in use by another process")
    path.unlink()


def is_live(path: Path) -> bool:
    """Whether something accepts connections on the Unix socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def set_mode(path: Path, mode: int, group: int | None = None) -> None:
    """Apply the configured group and file mode once grpcio has created the socket."""
    try:
        if group is not None:
            os.chown(path, -1, group)
        os.chmod(path, mode)
    except OSError as exc:
        raise ConfigError(
            f"socket {path}: cannot set mode {mode:o} and group {group}: {exc.strerror}"
        ) from None


def move_into_place(spare: Path, path: Path) -> None:
    """Give the socket bound at ``spare`` the name ``path``, unless something took it meanwhile."""
    try:
        os.link(spare, path)
    except FileExistsError:
        raise ConfigError(f"socket {path} was created by another process") from None
    except OSError as exc:
        raise ConfigError(f"socket {path}: {exc.strerror}") from None
    finally:
        spare.unlink(missing_ok=True)


def file_id(path: Path) -> FileId | None:
    """The socket file now at ``path``, or None when there is none (or no directory)."""
    try:
        st = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISSOCK(st.st_mode) else None


def release(path: Path, ours: FileId | None) -> None:
    """Remove the socket file at ``path`` if it is still the one we bound (``ours``): after a
    re-listen or a takeover, the file there belongs to someone else."""
    if ours is not None and file_id(path) == ours:
        path.unlink(missing_ok=True)
