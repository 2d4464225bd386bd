"""The bench's pure parts: py-spy stack summaries, round statistics, and the README's
performance tables, which must show what the committed bench/results.json holds."""

from __future__ import annotations

import pytest

from bench import readme, report, stacks
from bench.rpc import spread

RAW = [
    "run (asyncio/runners.py:44);"
    "VerifyToken (spiffebind/api/servicer.py:90);"
    "verify (spiffebind/token/verify.py:120) 6",
    "run (asyncio/runners.py:44);"
    "VerifyToken (spiffebind/api/servicer.py:91);"
    "write (spiffebind/observe/audit.py:50);"
    "write (spiffebind/observe/audit.py:60) 3",
    "run (asyncio/runners.py:44);"
    "__pyx_f_4grpc_7_cython_6cygrpc_x (cygrpc.cpython-311-x86_64-linux-gnu.so) 1",
    "run (asyncio/runners.py:44);"
    "0x7f0a1 (grpc/_cython/cygrpc.cpython-311-x86_64-linux-gnu.so);"
    "sendmsg (libc.so.6) 2",
    "not a stack line",
]


def test_self_samples_go_to_the_innermost_function_and_its_area() -> None:
    profile = stacks.parse(RAW)
    assert profile.samples == 12
    assert profile.self_counts["verify (spiffebind/token/verify.py)"] == 6
    assert profile.self_counts["write (spiffebind/observe/audit.py)"] == 3
    assert profile.self_counts["sendmsg (libc.so.6)"] == 2
    assert profile.areas == {
        "spiffebind.token": 6,
        "spiffebind.observe": 3,
        "grpcio (Python, Cython, C core)": 3,
    }


def test_a_stripped_library_is_one_row_and_owns_the_libc_calls_it_makes() -> None:
    profile = stacks.parse(RAW)
    library = "? (grpc/_cython/cygrpc.cpython-311-x86_64-linux-gnu.so)"
    assert profile.cumulative[library] == 2
    assert profile.self_counts[library] == 0
    assert profile.self_counts["sendmsg (libc.so.6)"] == 2


def test_cumulative_counts_a_recursive_function_once_per_sample() -> None:
    profile = stacks.parse(RAW)
    assert profile.cumulative["write (spiffebind/observe/audit.py)"] == 3
    assert profile.cumulative["VerifyToken (spiffebind/api/servicer.py)"] == 9
    assert profile.cumulative["run (asyncio/runners.py)"] == 12


def test_tables_rank_functions_by_samples() -> None:
    text = stacks.tables(stacks.parse(RAW), "verify", top=1)
    assert "| `verify (spiffebind/token/verify.py)` | 6 | 50.0% |" in text
    assert "write (spiffebind/observe/audit.py)` | 3" not in text


def test_spread_is_the_median_and_range_of_the_rounds() -> None:
    out = spread([0.9, 1.2, 1.0])
    assert (out["median"], out["min"], out["max"]) == (1.0, 0.9, 1.2)
    assert out["spread_pct"] == pytest.approx(30.0)


def test_the_readme_shows_the_committed_bench_results() -> None:
    current = readme.README.read_text()
    assert readme.with_tables(current, readme.RESULTS.read_text()) == current


def test_the_readme_tables_follow_the_results() -> None:
    current = readme.README.read_text()
    results = readme.RESULTS.read_text()
    changed = results.replace('"nproc": ', '"nproc": 1', 1)
    assert changed != results
    assert readme.with_tables(current, changed) != current


def test_our_cumulative_table_leaves_out_entry_points_and_other_code() -> None:
    lines = [f"main (spiffebind/daemon.py:1);{line}" for line in RAW]
    mine = stacks.ours(stacks.parse(lines))
    assert "main (spiffebind/daemon.py)" not in mine
    assert "run (asyncio/runners.py)" not in mine
    assert mine["VerifyToken (spiffebind/api/servicer.py)"] == 9


@pytest.mark.parametrize(
    ("loads", "quiet"),
    [([0.3, 2.6, 3.1], True), ([1.4, 2.6, 3.1], False), ([0.2], True)],
)
def test_quiet_or_loaded_is_judged_by_the_load_before_the_run(
    loads: list[float], quiet: bool
) -> None:
    """During a run the bench's own processes load both cores; only the figure before it
    says whether other work shared the machine."""
    note = report.load_note({"load_avg_1m": loads, "nproc": 2})
    assert note.startswith("quiet machine") is quiet
    assert f"{loads[0]:.1f} before the run" in note
