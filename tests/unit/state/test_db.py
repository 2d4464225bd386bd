"""Opening a store file, shared by every store: private, WAL, ours, one owner, clear errors."""

from __future__ import annotations

import re
import shutil
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spiffebind.errors import StateError
from spiffebind.state import IssuedLedger, RevocationStore
from spiffebind.state.db import Store

FULL, NORMAL = 2, 1  # what PRAGMA synchronous reports


@dataclass(frozen=True)
class Kind:
    open: Callable[[Path], Store]
    file_name: str
    name: str
    synchronous: int


REVOCATIONS = Kind(RevocationStore.open, "revocations.sqlite3", "revocation", FULL)
LEDGER = Kind(IssuedLedger.open, "issued.sqlite3", "issued-token", NORMAL)


@pytest.fixture(params=[REVOCATIONS, LEDGER], ids=["revocations", "ledger"])
def kind(request: pytest.FixtureRequest) -> Kind:
    assert isinstance(request.param, Kind)
    return request.param


def test_creates_private_state_dir_and_database(state_dir: Path, kind: Kind) -> None:
    with kind.open(state_dir):
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((state_dir / kind.file_name).stat().st_mode) == 0o600


def test_one_open_store_per_state_dir(state_dir: Path, kind: Kind) -> None:
    store = kind.open(state_dir)
    with pytest.raises(StateError, match=re.escape(str(state_dir))):
        kind.open(state_dir)
    store.close()
    store.close()
    kind.open(state_dir).close()


def test_both_stores_share_a_state_dir_in_separate_files(state_dir: Path) -> None:
    with RevocationStore.open(state_dir), IssuedLedger.open(state_dir):
        assert (state_dir / REVOCATIONS.file_name).is_file()
        assert (state_dir / LEDGER.file_name).is_file()


def test_each_store_keeps_its_own_durability(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recording(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(sqlite3, "connect", recording)
    with REVOCATIONS.open(state_dir), LEDGER.open(state_dir):
        levels = [conn.execute("PRAGMA synchronous").fetchone()[0] for conn in opened]
        modes = [conn.execute("PRAGMA journal_mode").fetchone()[0] for conn in opened]
    assert levels == [REVOCATIONS.synchronous, LEDGER.synchronous]
    assert modes == ["wal", "wal"]


def test_state_dir_under_a_regular_file(tmp_path: Path, kind: Kind) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateError, match=re.escape(str(blocker))):
        kind.open(blocker / "state")


def test_state_dir_where_nothing_can_be_created(kind: Kind) -> None:
    # procfs refuses new files even to root, unlike a chmod'ed directory.
    with pytest.raises(StateError, match="/proc/self"):
        kind.open(Path("/proc/self"))


def test_database_path_is_a_directory(state_dir: Path, kind: Kind) -> None:
    (state_dir / kind.file_name).mkdir(parents=True)
    with pytest.raises(StateError, match=re.escape(kind.file_name)):
        kind.open(state_dir)


def test_corrupt_database_is_refused_and_left_alone(state_dir: Path, kind: Kind) -> None:
    state_dir.mkdir()
    corrupt = state_dir / kind.file_name
    corrupt.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(StateError, match=re.escape(kind.file_name)):
        kind.open(state_dir)
    assert corrupt.read_bytes() == b"\x00garbage" * 512


def test_foreign_sqlite_database_is_refused(state_dir: Path, kind: Kind) -> None:
    state_dir.mkdir()
    with sqlite3.connect(state_dir / kind.file_name) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    with pytest.raises(StateError, match=f"not a spiffebind {kind.name} database"):
        kind.open(state_dir)


def test_the_other_stores_file_is_refused(tmp_path: Path, kind: Kind) -> None:
    other = LEDGER if kind is REVOCATIONS else REVOCATIONS
    other.open(tmp_path / "other").close()
    (tmp_path / "state").mkdir()
    shutil.copy(tmp_path / "other" / other.file_name, tmp_path / "state" / kind.file_name)
    with pytest.raises(StateError, match=f"not a spiffebind {kind.name} database"):
        kind.open(tmp_path / "state")


def test_newer_schema_version_is_refused(state_dir: Path, kind: Kind) -> None:
    kind.open(state_dir).close()
    conn = sqlite3.connect(state_dir / kind.file_name)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StateError, match="schema version 99"):
        kind.open(state_dir)
