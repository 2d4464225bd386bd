"""Where and when a run happened, and its results as the Markdown tables the README shows."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

LOADED = 1.0
"""A one-minute load average per core above this marks the run as on a loaded machine."""


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
    loads = meta["load_avg_1m"]
    per_core = max(loads) / (meta["nproc"] or 1)
    state = "loaded" if per_core > LOADED else "quiet"
    return f"{state} machine (1-min load average {min(loads):.1f}-{max(loads):.1f})"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"  # NaN when nothing succeeded


def _pair(row: Mapping[str, Any], name: str, c: str) -> str:
    a, b = row["spiffebind"], row["spire"]
    check = "" if row["checked_by_daemon_counters"] else " (unchecked)"
    return (
        f"| {name} | {c[1:]} | {a['rps']} | {_ms(a['p50_ms'])} | {_ms(a['p99_ms'])} "
        f"| {_ms(a['p99.9_ms'])} | {b['rps']} | {_ms(b['p50_ms'])} | {_ms(b['p99_ms'])} "
        f"| {_ms(b['p99.9_ms'])} | **{row['rps_ratio']}x** | {row['p99_ratio']}x{check} "
        f"| {a['server_cpu_us_per_request']} / {b['server_cpu_us_per_request']} |"
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


def tables(results: Mapping[str, Any]) -> str:
    """Markdown for every section present in ``results``."""
    out: list[str] = []
    meta = results.get("machine")
    if meta:
        out.append(
            f"Measured {meta['date']} on {meta['nproc']} x {meta['cpu']}, Python "
            f"{meta['python']}, grpcio {meta['grpcio']}; {load_note(meta)}.\n"
        )
    rpc = results.get("rpc")
    if rpc:
        out += [
            "| call | conc. | spiffebind rps | p50 ms | p99 ms | p99.9 ms | SPIRE rps | p50 ms "
            "| p99 ms | p99.9 ms | rps ratio | p99 ratio | server CPU µs/req (sb / SPIRE) |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        names = {
            "verify": "VerifyToken vs ValidateJWTSVID",
            "ext_authz": "ext_authz Check vs ValidateJWTSVID",
            "issue": "IssueToken vs FetchJWTSVID",
        }
        for kind, rows in rpc.items():
            out += [_pair(row, names[kind], c) for c, row in rows.items()]
        out.append("")
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
        for name, row in scale.items():
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
