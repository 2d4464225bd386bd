"""``spiffebind audit verify``: exit 0 intact, 1 broken (file and line named), 2 unusable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from spiffebind.cli.audit import audit
from spiffebind.observe.audit import AuditEvent, AuditLog, Decision, EventKind
from spiffebind.observe.audit_chain import digest


def _record(log: AuditLog, *jtis: str) -> None:
    for jti in jtis:
        log.record(AuditEvent(event=EventKind.REVOKE, decision=Decision.ALLOW, jti=jti))


def _write(path: Path, *jtis: str) -> Path:
    log = AuditLog.open(str(path))
    _record(log, *jtis)
    log.close()
    return path


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(audit, ["verify", *map(str, args)])


def test_an_intact_file_is_ok(tmp_path: Path) -> None:
    result = _run(_write(tmp_path / "audit.log", "a", "b", "c"))
    assert (result.exit_code, result.stdout) == (0, "ok: 3 events\n")


def test_an_edited_line_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "audit.log", "a", "b", "c")
    path.write_bytes(path.read_bytes().replace(b'"jti":"a"', b'"jti":"z"'))
    result = _run(path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:2: wrong_prev: ")
    assert result.stdout == ""


def test_files_in_order_form_one_chain(tmp_path: Path) -> None:
    old, new = tmp_path / "audit.log.1", tmp_path / "audit.log"
    log = AuditLog.open(str(new))
    _record(log, "a", "b")
    new.rename(old)
    log.reopen()
    _record(log, "c")
    assert _run(old, new).stdout == "ok: 3 events\n"
    swapped = _run(new, old)
    assert (swapped.exit_code, swapped.stderr.split(": ")[0]) == (1, f"{new}:1")


def test_start_continues_a_file_no_longer_kept(tmp_path: Path) -> None:
    first, second = _write(tmp_path / "audit.log", "a", "b").read_bytes().splitlines()
    kept = tmp_path / "kept.log"
    kept.write_bytes(second + b"\n")
    assert _run(kept).exit_code == 1
    assert _run("--start", digest(first), kept).stdout == "ok: 1 events\n"


def test_json_reports_head_and_break(tmp_path: Path) -> None:
    path = _write(tmp_path / "audit.log", "a", "b")
    ok = _run("--json", path)
    lines = path.read_bytes().splitlines()
    assert json.loads(ok.stdout) == {"ok": True, "events": 2, "head": digest(lines[-1])}
    path.write_bytes(lines[1] + b"\n")
    broken = json.loads(_run("--json", path).stdout)
    assert broken["ok"] is False
    assert (broken["file"], broken["line"], broken["fault"], broken["events"]) == (
        str(path),
        1,
        "wrong_prev",
        0,
    )


@pytest.mark.parametrize(
    "args",
    [(), ("--start", "abc", "x"), ("--start", "AB" * 32, "x")],
    ids=["no_file", "short_start", "uppercase_start"],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    assert _run(*args).exit_code == 2


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    ok = _write(tmp_path / "audit.log", "a")
    for bad in (tmp_path / "missing.log", tmp_path):
        result = _run(ok, bad)
        assert result.exit_code == 2
        assert f"cannot read {bad}" in result.stderr
