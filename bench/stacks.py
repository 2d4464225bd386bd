"""Summarize py-spy's collapsed stacks (``--format raw``) as top-N Markdown tables.

Each line of the input is ``frame;frame;...;frame COUNT``, outermost frame first, a frame
being ``function (path:line)``; py-spy gives paths relative to ``sys.path``, and with
``--native`` C frames as ``function (file.c:line)`` or ``function (library.so)``, or as a
bare address in a stripped library (grpcio's Cython module), which is named ``?`` here so
that a library's unnamed code is one row. *Self* counts a sample for the innermost frame
(where the CPU was); *cumulative* counts it once for every distinct function on the stack
(what a call and everything under it cost). The by-area table gives a sample in libc (a
system call, ``malloc``) to the first frame above it that is not libc: ``sendmsg`` called by
grpcio's C core is grpcio's cost. ``python -m bench.stacks FILE [N]`` prints
the tables.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*?) \((?P<path>.*?)(?::\d+)?\)$")
_ADDRESS = re.compile(r"^0x[0-9a-f]+$")
_LIBC = ("libc.so", "[vdso]", "libpthread")
_AREAS = (  # (substring of a frame's path, area); the first match wins
    ("spiffebind/api/", "spiffebind.api"),
    ("spiffebind/observe/", "spiffebind.observe"),
    ("spiffebind/token/", "spiffebind.token"),
    ("spiffebind/policy/", "spiffebind.policy"),
    ("spiffebind/state/", "spiffebind.state"),
    ("spiffebind/service/", "spiffebind.service"),
    ("spiffebind/", "spiffebind (other)"),
    ("grpc", "grpcio (Python, Cython, C core)"),
    ("protobuf", "protobuf"),
    ("prometheus_client/", "prometheus_client"),
    ("cryptography", "cryptography, OpenSSL"),
    ("libcrypto", "cryptography, OpenSSL"),
    ("jwt/", "pyjwt"),
    ("asyncio", "asyncio, selectors"),
    ("selectors.py", "asyncio, selectors"),
    ("json", "json"),
    ("logging/", "logging"),
    ("sqlite", "sqlite3"),
    ("libpython", "CPython interpreter"),
    (".c", "CPython interpreter"),  # the interpreter's own C files, e.g. ceval.c
)


@dataclass(frozen=True)
class Profile:
    """Sample counts per function (``name (path)``) and per area of the code."""

    samples: int
    self_counts: Counter[str]
    cumulative: Counter[str]
    areas: Counter[str]


def _function(frame: str) -> str:
    """``name (path)``: the line is dropped, so one function is one row."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    name = "?" if _ADDRESS.match(match["name"]) else match["name"]
    return f"{name} ({match['path']})"


def area(function: str) -> str:
    """The part of the code a function (as :func:`_function` names it) belongs to."""
    path = function.rsplit(" (", 1)[-1]
    return next((name for marker, name in _AREAS if marker in path), "other")


def _owner(functions: list[str]) -> str:
    """The area of the innermost frame that is not in libc."""
    for function in reversed(functions):
        if not any(lib in function for lib in _LIBC):
            return area(function)
    return "other"


def parse(lines: Iterable[str]) -> Profile:
    samples = 0
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        functions = [_function(f) for f in stack.split(";")]
        samples += count
        own[functions[-1]] += count
        areas[_owner(functions)] += count
        for function in set(functions):
            cumulative[function] += count
    return Profile(samples, own, cumulative, areas)


def _pct(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def ours(profile: Profile) -> Counter[str]:
    """Cumulative samples of spiffebind's own functions below its entry points (a function on
    nearly every stack, such as the daemon's main loop, says nothing about a method's cost)."""
    return Counter(
        {
            f: n
            for f, n in profile.cumulative.items()
            if " (spiffebind/" in f and n < 0.9 * profile.samples
        }
    )


def tables(profile: Profile, title: str, top: int = 25) -> str:
    """Markdown: self samples by area, the top functions by self samples, and spiffebind's
    own functions by cumulative samples."""
    total = profile.samples
    out = [f"#### {title}", "", f"{total} samples.", "", "| area (self) | samples | share |"]
    out.append("|---|--:|--:|")
    out += [f"| {a} | {n} | {_pct(n, total)} |" for a, n in profile.areas.most_common()]
    for heading, counts in (
        ("self", profile.self_counts),
        ("cumulative, spiffebind's code", ours(profile)),
    ):
        out += ["", f"| top {top} by {heading} | samples | share |", "|---|--:|--:|"]
        out += [
            f"| `{f.replace('|', '/')}` | {n} | {_pct(n, total)} |"
            for f, n in counts.most_common(top)
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> None:
    source = Path(argv[0])
    top = int(argv[1]) if len(argv) > 1 else 25
    print(tables(parse(source.read_text().splitlines()), source.stem, top))


if __name__ == "__main__":
    main(sys.argv[1:])
