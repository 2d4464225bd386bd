"""Where and when a run happened, and its results as the Markdown tables the README shows."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

LOADED = 0.5
"""A one-minute load average per core above this before the run marks it as on a loaded
machine. Only the figure before the run can say: during it the bench's own ghz, daemon and
SPIRE agent keep both cores busy."""


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "grpcio": version("grpcio"),
        "load_avg_1m": [os.getloadavg()[0]],
    }


def load_note(meta: Mapping[str, Any]) -> str:
    """Says how busy the machine was; a loaded machine's ratios are noisy, and it says so.
    ``load_avg_1m`` holds the load before the run, then after each section."""
    before, *during = meta["load_avg_1m"]
    per_core = before / (meta["nproc"] or 1)
    span = f"1-minute load average {before:.1f} before the run"
    if during:
        span += f", {min(during):.1f}-{max(during):.1f} during it with the bench's own load"
    if per_core > LOADED:
        return (
            f"**loaded machine** ({span} on {meta['nproc']} cores: other work shared the "
            "CPUs, so the figures are noisy)"
        )
    return f"quiet machine ({span})"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"  # NaN when nothing succeeded


def _ratio(r: Mapping[str, Any]) -> str:
    return f"{r['median']}x ({r['min']}-{r['max']})"


_CALLS = {
    "transport": ("gRPC health Check (the transport alone) vs ValidateJWTSVID", "-"),
    "verify": ("VerifyToken vs ValidateJWTSVID", "yes"),
    "verify_distinct": ("VerifyToken, distinct tokens, vs ValidateJWTSVID", "chains only"),
    "ext_authz": ("ext_authz Check vs ValidateJWTSVID", "yes"),
    "issue": ("IssueToken vs FetchJWTSVID", "-"),
}


_OPEN_LOOP_ORDER = ("VerifyToken", "Check", "ValidateJWTSVID")


def _number(key: str) -> int:
    """``c64`` -> 64, ``1000rps`` -> 1000, ``10k_tokens`` -> 10: results.json keeps its keys
    sorted as text, the tables go in numeric order."""
    return int("".join(ch for ch in key if ch.isdigit()))


def _pair(row: Mapping[str, Any], kind: str, c: str) -> str:
    a, b = row["spiffebind"], row["spire"]
    name, cache = _CALLS[kind]
    check = "" if row["checked_by_daemon_counters"] else " (unchecked)"
    return (
        f"| {name}{check} | {cache} | {c[1:]} | {a['rps']} | {_ms(a['p50_ms'])} "
        f"| {_ms(a['p99_ms'])} | {b['rps']} | {_ms(b['p50_ms'])} | {_ms(b['p99_ms'])} "
        f"| **{_ratio(row['rps_ratio'])}** | {_ratio(row['p99_ratio'])} "
        f"| {a['server_cpu_us_per_request']} / {b['server_cpu_us_per_request']} "
        f"| {_ratio(row['cpu_ratio'])} |"
    )


def _tools_table(tools: Mapping[str, Any]) -> list[str]:
    """The in-process tool verifier against the two socket calls, one core."""
    out = [
        "| a tool verifies one call (one core, one at a time) | ops/s | p50 ms | p99 ms "
        "| vs ValidateJWTSVID |",
        "|---|--:|--:|--:|--:|",
    ]
    names = {
        "in_process_warm": "in-process `ToolVerifier`, warm (same task's token)",
        "in_process_cold": "in-process `ToolVerifier`, cold (fresh caches)",
        "verify_token_c1": "`VerifyToken` over the daemon's socket",
        "validate_jwt_svid_c1": "SPIRE `ValidateJWTSVID` over the agent's socket",
    }
    for key, name in names.items():
        row = tools[key]
        ratio = row.get("over_validate_jwt_svid", 1.0)
        out.append(
            f"| {name} | {row['ops_per_s']} | {row['p50_ms']} | {row['p99_ms']} | {ratio}x |"
        )
    return [*out, ""]


def _dpop_table(pop: Mapping[str, Any]) -> list[str]:
    """VerifyToken with a DPoP proof against with the certificate."""
    out = [
        "| VerifyToken: proof of possession | ops/s | p50 µs | p99 µs | mean vs certificate |",
        "|---|--:|--:|--:|--:|",
    ]
    for where, row in pop.items():
        for side in ("certificate", "dpop"):
            ratio = f"{row['dpop_over_certificate_mean']}x" if side == "dpop" else "1.0x"
            cell = row[side]
            out.append(
                f"| {where.replace('_', ' ')}, {side} | {cell['ops_per_s']} "
                f"| {cell['p50_us']} | {cell['p99_us']} | {ratio} |"
            )
    return [*out, ""]


def _rpc(rpc: Mapping[str, Any]) -> list[str]:
    rounds = len(next(iter(next(iter(rpc.values())).values()))["rps_ratio"]["rounds"])
    out = [
        f"Closed loop (ghz, a fixed number of requests in flight), {rounds} alternating rounds "
        "per row; ratios are spiffebind / SPIRE, the median of the rounds' ratios with their "
        "range; latencies and CPU pooled over the rounds. *cache*: whether spiffebind answers "
        "the signature from its cache (SPIRE re-verifies every call).",
        "",
        "| call | cache | conc. | spiffebind rps | p50 ms | p99 ms | SPIRE rps | p50 ms "
        "| p99 ms | rps ratio | p99 ratio | server CPU µs/req (sb / SPIRE) | CPU ratio |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for kind in (k for k in _CALLS if k in rpc):
        out += [_pair(rpc[kind][c], kind, c) for c in sorted(rpc[kind], key=_number)]
    out.append("")
    return out


def _open_loop(rows: Mapping[str, Any]) -> list[str]:
    lines = [
        f"| {rate.removesuffix('rps')} | {method} | {m['rps']} | {_ms(m['p50_ms'])} "
        f"| {_ms(m['p99_ms'])} | {_ms(m['p99.9_ms'])} | {m['requests']} | {m['errors']} |"
        for rate in sorted(rows, key=_number)
        for method in _OPEN_LOOP_ORDER
        for m in (rows[rate][method],)
    ]
    return [
        "Open loop (ghz `--rps`: requests start at the target rate whatever the latency), "
        "repeated token; rounds alternate between the three methods.",
        "",
        "| target rps | method | achieved rps | p50 ms | p99 ms | p99.9 ms | requests | errors |",
        "|--:|---|--:|--:|--:|--:|--:|--:|",
        *lines,
        "",
    ]


def _rss(after: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        "| RSS after section | spiffebind MiB | spire-agent MiB | ratio |",
        "|---|--:|--:|--:|",
        *(
            f"| {r['after']} | {r['spiffebind']} | {r['spire_agent']} "
            f"| {r['spiffebind'] / r['spire_agent']:.2f}x |"
            for r in after
        ),
        "",
    ]


def tables(results: Mapping[str, Any]) -> str:
    """Markdown for every section present in ``results``."""
    out: list[str] = []
    meta = results.get("machine")
    if meta:
        out.append(
            f"Measured {meta['date']} on {meta['nproc']} x {meta['cpu']}, Python "
            f"{meta['python']}, grpcio {meta['grpcio']}; {load_note(meta)}.\n"
        )
    if results.get("rpc"):
        out += _rpc(results["rpc"])
    if results.get("open_loop"):
        out += _open_loop(results["open_loop"])
    if results.get("rss_mib_after"):
        out += _rss(results["rss_mib_after"])
    tools = results.get("tools")
    if tools:
        out += _tools_table(tools)
    inproc = results.get("inprocess_verify")
    if inproc:
        out += [
            "| in-process verify (no RPC) | ops/s | vs bare `jwt.decode` |",
            "|---|--:|--:|",
            f"| `jwt.decode` ES256, key known | {inproc['jwt_decode_ops_per_s']} | 1.0x |",
            f"| spiffebind, caches cold | {inproc['spiffebind_uncached_ops_per_s']} "
            f"| {inproc['uncached_over_floor']}x |",
            f"| spiffebind, new token, known signer and peer "
            f"| {inproc['spiffebind_new_token_warm_chains_ops_per_s']} "
            f"| {inproc['new_token_warm_chains_over_floor']}x |",
            f"| spiffebind, cached token | {inproc['spiffebind_cached_ops_per_s']} "
            f"| {inproc['cached_over_floor']}x |",
        ]
        servicer = results.get("servicer_verify_cpu_us")
        if servicer:
            out.append(
                f"| VerifyToken servicer, audit + metrics, no gRPC | {round(1e6 / servicer)} | |"
            )
        out.append("")
    state = results.get("state")
    if state:
        rss, start = state["rss_mib"], state["startup_to_ready_s"]
        out += [
            "| memory and start-up | value |",
            "|---|--:|",
            f"| spiffebind RSS idle | {rss['spiffebind_idle']} MiB |",
            f"| spiffebind RSS with 100k revocations | {rss['spiffebind_100k_revocations']} MiB |",
            "| spiffebind RSS with 100k revocations + 10k live tokens (issued, verified) "
            f"| {rss['spiffebind_100k_revocations_10k_live_tokens']} MiB |",
            f"| spire-agent RSS (after the same run) | {rss['spire_agent']} MiB |",
            f"| start-up to ready, empty state | {start['empty_state']} s |",
            f"| start-up to ready, 100k revocations | {start['100k_revocations']} s |",
        ]
        lookups = results.get("revocation_lookup") or {}
        for key, value in lookups.items():
            held = key.removeprefix("ns_per_lookup_").removesuffix("_held")
            out.append(f"| revocation lookup, {held} held (in-process) | {value} ns |")
        out.append("")
    pop = results.get("dpop")
    if pop:
        out += _dpop_table(pop)
    scale = results.get("scale")
    if scale:
        out += [
            "| VerifyToken, conc. 64, distinct tokens | rps | p50 ms | p99 ms | requests "
            "| RSS after |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for name in sorted(scale, key=_number):
            row = scale[name]
            out.append(
                f"| {name.replace('_', ' ')} | {row['rps']} | {_ms(row['p50_ms'])} "
                f"| {_ms(row['p99_ms'])} | {row['requests']} | {row['rss_mib_after']} MiB |"
            )
        out.append("")
    out += _cluster(results.get("cluster"))
    return "\n".join(out)


def _cluster(cluster: Mapping[str, Any] | None) -> list[str]:
    if not cluster:
        return []
    prop, rate, feed = cluster["propagation"], cluster["revocation_rate"], cluster["verify_feed"]
    on, off = feed["feed_on"], feed["feed_off"]
    return [
        "| cluster-wide revocation (3 daemons, 3 NATS servers, bucket R3) | value |",
        "|---|--:|",
        f"| propagation, RevokeToken OK at A to `revoked` at B and C, p50 "
        f"({prop['revocations']} revocations) | {prop['p50_ms']} ms |",
        f"| propagation p99 | {prop['p99_ms']} ms |",
        f"| revocations acknowledged per second ({rate['workers']} callers, 3 nodes) "
        f"| {rate['per_s']} |",
        f"| VerifyToken rps, conc. {feed['concurrency']}, feed on / node-local "
        f"| {on['rps']} / {off['rps']} ({feed['rps_ratio']}x) |",
        f"| VerifyToken p99, feed on / node-local "
        f"| {_ms(on['p99_ms'])} / {_ms(off['p99_ms'])} ms |",
        "",
    ]
