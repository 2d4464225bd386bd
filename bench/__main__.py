"""``python -m bench [SECTION...]``: run the benchmarks once, print tables, write results.json.

Sections: ``inprocess`` (token core and servicer, no RPC), ``rpc`` (spiffebind against the
SPIRE agent over Unix sockets with ghz), ``tools`` (a tool's in-process verifier against
VerifyToken and ValidateJWTSVID), ``state`` (start-up, memory, revocations), ``scale``
(distinct tokens), ``dpop`` (verification with a DPoP proof against with the certificate,
in-process and over the socket) and ``cluster`` (three daemons sharing revocations through a
three-server NATS cluster, on a SPIRE test bed of its own). All by default; ``state``,
``rpc``, ``tools``, ``scale`` and ``dpop`` share one SPIRE test bed and one daemon, in that
order, so later sections see the state earlier ones left (100k revocations and 10k live
tokens from ``state``; the tokens ``rpc`` issued). The RSS of both servers and the machine's
load are recorded after each section; ``python -m bench.readme`` (run by ``make bench``)
then writes the README's tables from results.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from bench import cluster, dpop, inprocess, report, servicer, state, tools
from bench import ghz as g
from bench.rig import Rig
from bench.rpc import Comparison

RESULTS = Path(__file__).with_name("results.json")
SECTIONS = ("inprocess", "state", "rpc", "tools", "scale", "dpop", "cluster")
LIVE = {"state", "rpc", "tools", "scale", "dpop"}
"""The sections that share one SPIRE test bed and one daemon."""


def _rss(rig: Rig) -> dict[str, float]:
    return {
        "spiffebind": state.settled_rss(rig.daemon_pid()),
        "spire_agent": state.settled_rss(rig.agent_pid()),
    }


def _live(wanted: set[str], results: dict[str, Any], meta: dict[str, Any]) -> None:
    """The sections that need SPIRE and the daemon; RSS of both and the load after each."""
    ghz = g.ghz_binary()
    rss: list[dict[str, Any]] = []
    results["rss_mib_after"] = rss

    def done(name: str) -> None:
        rss.append({"after": name, **_rss(rig)})
        meta["load_avg_1m"].append(os.getloadavg()[0])
        print(f"{name}: done, RSS {rss[-1]}", file=sys.stderr, flush=True)

    with Rig.start() as rig:
        if "state" in wanted:
            results["state"] = state.startup_and_memory(rig, ghz)
            results["revocation_lookup"] = state.revocation_lookups()
            done("state")
        elif rig.daemon.proc is None:
            rig.start_daemon()
        if "rpc" in wanted:
            comparison = Comparison(rig, ghz)
            rpc: dict[str, Any] = {}
            results["rpc"] = rpc
            for kind in ("transport", "verify", "verify_distinct", "ext_authz", "issue"):
                rpc[kind] = getattr(comparison, kind)()
                done(kind)
            results["open_loop"] = comparison.open_loop()
            done("open_loop")
        if "tools" in wanted:
            results["tools"] = tools.run(rig, Comparison(rig, ghz))
            done("tools")
        if "scale" in wanted:
            results["scale"] = state.scale(rig, ghz)
            done("scale")
        if "dpop" in wanted:
            results["dpop"] = {
                "in_process": dpop.in_process(),
                "over_socket": dpop.over_socket(rig.daemon.socket, rig.agent),
            }
            done("dpop")


def main(argv: list[str]) -> None:
    wanted = set(argv) or set(SECTIONS)
    unknown = wanted - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    meta = report.machine()
    if "inprocess" in wanted:
        results["inprocess_verify"] = inprocess.run()
        with servicer.verify_call() as call:
            results["servicer_verify_cpu_us"] = round(servicer.per_call_us(call), 1)
    if wanted & LIVE:
        _live(wanted, results, meta)
    if "cluster" in wanted:
        results["cluster"] = cluster.run(g.ghz_binary())
        meta["load_avg_1m"].append(os.getloadavg()[0])
    meta["load_avg_1m"] = [round(x, 2) for x in [*meta["load_avg_1m"], os.getloadavg()[0]]]
    results["machine"] = meta
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(report.tables(results))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
