"""Claiming a socket path: the length leaves room for the spare name, stale sockets go,
anything else at the path is refused."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from spiffebind.api.socket import MAX_PATH_BYTES, claim
from spiffebind.errors import ConfigError


def _padded(tmp_path: Path, length: int) -> Path:
    prefix = f"{tmp_path}/"
    return Path(prefix + "s" * (length - len(prefix)))


def test_the_longest_path_leaves_room_for_the_spare_name(tmp_path: Path) -> None:
    longest = _padded(tmp_path, MAX_PATH_BYTES)
    spare = claim(longest)
    assert spare == longest.with_name(longest.name + ".new")
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(spare))
    with pytest.raises(ConfigError, match=f"longer than {MAX_PATH_BYTES} bytes"):
        claim(_padded(tmp_path, MAX_PATH_BYTES + 1))


def test_stale_sockets_are_removed_under_both_names(tmp_path: Path) -> None:
    path = tmp_path / "run" / "api.sock"
    path.parent.mkdir()
    for name in (path, path.with_name("api.sock.new")):
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(str(name))
    claim(path)
    assert list(path.parent.iterdir()) == []


def test_a_regular_file_at_the_spare_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    path.with_name("api.sock.new").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        claim(path)
