"""``make profile``: the daemon under load, one method at a time, sampled by py-spy.

For each case ghz drives a real daemon (the bench rig: real SPIRE, ``spiffebind run``) at
``CONCURRENCY`` while py-spy, attached to the daemon's PID with ``--native`` (C frames are
named too: grpcio's Cython and C core, OpenSSL, the interpreter), records for ``SECONDS``
each: a flame graph of the thread holding the GIL (``<case>.svg``), collapsed stacks of the
same (``<case>.txt``), then collapsed stacks of every thread py-spy sees running
(``<case>.threads.txt``). The GIL view is the Python work the one event loop serializes,
which bounds throughput; it misses C code that releases the GIL (file writes, SQLite, some
crypto), which the all-threads view shows, at the price of counting some waiting threads
that py-spy cannot tell are idle. :mod:`bench.stacks` reduces the stacks to ``top.md``. All
under ``bench/profiles/``; ``top.md`` is committed, the rest is not (large, machine-specific).

Cases: ``verify`` (one repeated token: the signature cache answers), ``verify_distinct``
(a different token each call: a signature check each call), ``check`` (Envoy's Check with
the repeated token) and ``issue`` (a fresh signed request per call). The daemon runs slower
while sampled (py-spy pauses it for each sample); the rates in ``top.md`` are under py-spy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import ghz as g
from bench import report, stacks
from bench.rig import Rig
from bench.rpc import (
    CHECK_METHOD,
    ISSUE_METHOD,
    VERIFY_METHOD,
    Comparison,
    distinct_tokens,
    verify_messages,
)

OUT = Path(__file__).with_name("profiles")
SECONDS = 10
RATE = 100  # samples per second; --native makes each sample slower
CONCURRENCY = 16
CASES = ("verify", "verify_distinct", "check", "issue")


def py_spy() -> str:
    return str(Path(sys.executable).with_name("py-spy"))


def _record(pid: int, case: str) -> None:
    """For ``SECONDS`` each: a flame graph and collapsed stacks of the GIL holder, then
    collapsed stacks of every thread not idle."""
    for fmt, name, gil in (
        ("flamegraph", f"{case}.svg", True),
        ("raw", f"{case}.txt", True),
        ("raw", f"{case}.threads.txt", False),
    ):
        subprocess.run(
            [
                py_spy(),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(SECONDS),
                "--rate",
                str(RATE),
                *(["--gil"] if gil else []),
                "--native",
                "--format",
                fmt,
                "--output",
                str(OUT / name),
            ],
            check=True,
            capture_output=True,
        )


def _load(comparison: Comparison, rig: Rig, case: str) -> tuple[g.Call, dict[str, Any]]:
    """The call ghz makes for ``case`` and its ``data`` or ``binary`` input, made just before
    the case runs (issuance proofs are fresh for a short time only)."""
    many = 1200 * (3 * SECONDS + 2)  # more than the daemon answers in that time here
    if case == "verify":
        return comparison.call(VERIFY_METHOD), {"data": comparison.verify_data()}
    if case == "verify_distinct":
        tokens = distinct_tokens(rig, many)
        return comparison.call(VERIFY_METHOD), {"binary": verify_messages(rig, tokens)}
    if case == "check":
        return comparison.call(CHECK_METHOD), {"data": comparison.check_data()}
    return comparison.call(ISSUE_METHOD), {"binary": comparison.proofs(many)}


def profile(cases: Sequence[str]) -> str:
    """Record every case in ``cases``; the top-N tables as Markdown."""
    OUT.mkdir(exist_ok=True)
    ghz = g.ghz_binary()
    parts = []
    with Rig.start() as rig:
        rig.start_daemon()
        comparison = Comparison(rig, ghz)
        for case in cases:
            call, body = _load(comparison, rig, case)
            with ThreadPoolExecutor(1) as pool:
                load = pool.submit(
                    g.run, ghz, call, concurrency=CONCURRENCY, seconds=3 * SECONDS + 2, **body
                )
                _record(rig.daemon_pid(), case)
                summary = load.result().summary()
            print(f"{case}: {summary}", file=sys.stderr, flush=True)
            parts.append(
                f"### {case}: {summary['rps']} rps at concurrency {CONCURRENCY} while sampled, "
                f"{summary['errors']} errors\n"
            )
            for name, what in ((case, "GIL holder"), (f"{case}.threads", "all threads")):
                profile = stacks.parse((OUT / f"{name}.txt").read_text().splitlines())
                parts.append(stacks.tables(profile, f"{case}, {what}"))
    return "\n".join(parts)


def main(argv: list[str]) -> None:
    cases = argv or list(CASES)
    unknown = set(cases) - set(CASES)
    if unknown:
        raise SystemExit(f"unknown case(s) {sorted(unknown)}; choose from {CASES}")
    meta = report.machine()
    body = profile(cases)
    meta["load_avg_1m"].append(os.getloadavg()[0])
    header = (
        f"# py-spy profiles of the daemon under load\n\nRecorded {meta['date']} by "
        f"`make profile` on {meta['nproc']} x {meta['cpu']}, Python {meta['python']}, "
        f"grpcio {meta['grpcio']}; {report.load_note(meta)}. {RATE} samples/s for "
        f"{SECONDS} s per case; a share is of the samples of its view (GIL holder, or all "
        "threads seen running).\n\n"
    )
    (OUT / "top.md").write_text(header + body)
    print(header + body)


if __name__ == "__main__":
    main(sys.argv[1:])
