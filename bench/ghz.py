"""Drive ghz (a compiled gRPC load generator) and reduce its JSON report to a few figures.

ghz is built by ``scripts/install-ghz.sh`` into a cache outside the repo. Both sides of every
comparison are measured with the same binary and the same flags, so the client's own cost
is the same for both. Latency percentiles come from ghz's per-request details (its summary
stops at p99); throughput is ghz's own count over wall time.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor

REPO = Path(__file__).resolve().parent.parent


def ghz_binary() -> Path:
    """Build ghz into the cache if needed (a few minutes the first time); its path."""
    done = subprocess.run(
        [str(REPO / "scripts" / "install-ghz.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"install-ghz.sh failed:\n{done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def delimited(messages: Sequence[bytes]) -> bytes:
    """Serialized messages, each prefixed with its varint length: ghz's multi-message format."""
    out = bytearray()
    for message in messages:
        n = len(message)
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        out += message
    return bytes(out)


def write_protoset(descriptor: FileDescriptor, path: Path) -> Path:
    """``descriptor``'s file and all it imports as a FileDescriptorSet for ``--protoset``:
    Envoy's schema comes from the installed xds-protos package, no .proto file is needed."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(file: FileDescriptor) -> None:
        if file.name not in files:
            for dependency in file.dependencies:
                add(dependency)
            files[file.name] = descriptor_pb2.FileDescriptorProto()
            file.CopyToProto(files[file.name])

    add(descriptor)
    path.write_bytes(descriptor_pb2.FileDescriptorSet(file=files.values()).SerializeToString())
    return path


@dataclass(frozen=True)
class Call:
    """One gRPC method on one Unix socket, and how ghz learns its schema."""

    socket: Path
    method: str  # "package.Service/Method"
    proto: Path | None = None  # None: server reflection, unless protoset is given
    import_paths: tuple[Path, ...] = ()
    protoset: Path | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """What one or more runs measured: OK latencies (ns), errors, requests and wall time."""

    latencies_ns: tuple[int, ...]
    errors: int
    wall_s: float
    statuses: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, other: Sample) -> Sample:
        statuses = dict(self.statuses)
        for code, n in other.statuses.items():
            statuses[code] = statuses.get(code, 0) + n
        return Sample(
            self.latencies_ns + other.latencies_ns,
            self.errors + other.errors,
            self.wall_s + other.wall_s,
            statuses,
        )

    @property
    def requests(self) -> int:
        return len(self.latencies_ns) + self.errors

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s if self.wall_s else math.nan

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ns)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.rps),
            "p50_ms": _percentile(ordered, 0.50),
            "p99_ms": _percentile(ordered, 0.99),
            "p99.9_ms": _percentile(ordered, 0.999),
        }


def _percentile(ordered: Sequence[int], q: float) -> float:
    """Nearest-rank percentile, in milliseconds rounded to microseconds."""
    if not ordered:
        return math.nan
    return round(ordered[max(1, math.ceil(q * len(ordered))) - 1] / 1e6, 3)


def run(
    ghz: Path,
    call: Call,
    *,
    concurrency: int,
    data: str | None = None,
    binary: bytes | None = None,
    total: int | None = None,
    seconds: float | None = None,
    rps: int | None = None,
) -> Sample:
    """One ghz run: ``data`` is JSON (one message), ``binary`` length-delimited messages that
    ghz sends round-robin by request number; stop after ``total`` requests or ``seconds``
    (then requests still in flight are waited for and counted, not cancelled); ``rps`` makes
    the run open-loop: ghz starts requests at that rate whatever the answers' latency, as
    long as fewer than ``concurrency`` are in flight."""
    argv = [
        str(ghz),
        "--insecure",
        "--call",
        call.method,
        "--concurrency",
        str(concurrency),
        "--connections",
        "1",
        "--format",
        "json",
        "--timeout",
        "30s",
    ]
    if call.protoset is not None:
        argv += ["--protoset", str(call.protoset)]
    elif call.proto is not None:
        argv += ["--proto", str(call.proto)]
        argv += [a for p in call.import_paths for a in ("--import-paths", str(p))]
    if call.metadata:
        argv += ["--metadata", json.dumps(dict(call.metadata))]
    if rps:
        argv += ["--rps", str(rps)]
    if total:
        argv += ["--total", str(total)]
    else:
        argv += ["--duration", f"{seconds}s", "--duration-stop", "wait"]
    with tempfile.TemporaryDirectory(prefix="sbg", dir="/tmp") as scratch:
        if binary is not None:
            path = Path(scratch) / "data.bin"
            path.write_bytes(binary)
            argv += ["--binary-file", str(path)]
        else:
            argv += ["--data", data or "{}"]
        done = subprocess.run(
            [*argv, f"unix://{call.socket}"], capture_output=True, text=True, check=False
        )
    if done.returncode or not done.stdout.startswith("{"):
        raise RuntimeError(f"ghz {call.method} failed ({done.returncode}): {done.stderr[-2000:]}")
    return _sample(json.loads(done.stdout))


def _sample(report: Mapping[str, Any]) -> Sample:
    details = report.get("details") or []
    ok = tuple(int(d["latency"]) for d in details if d.get("status") == "OK")
    return Sample(
        latencies_ns=ok,
        errors=len(details) - len(ok),
        wall_s=int(report["total"]) / 1e9,
        statuses=dict(report.get("statusCodeDistribution") or {}),
    )
