"""The demo's story: set up, six narrated steps, each one checked, everything stopped after.

Exit codes: 0 every step behaved as narrated; 1 one did not (or a workload failed); 2 it
cannot be set up (not root, no SPIRE binaries); 128 + the signal number when SIGINT (130)
or SIGTERM (143) stopped it. In every case each process it started has been stopped by PID
and its temp dirs removed before it exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from spiffebind.demo import records
from spiffebind.demo.narrate import Narrator
from spiffebind.demo.protocol import Message
from spiffebind.demo.stage import set_up
from spiffebind.demo.workloads import AGENT, INTRUDER, TOOL, Worker
from spiffebind.errors import ConfigError, SpiffebindError
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spirebed import Sandbox, Stopped, StopSignals

TXN = "demo-task-1"
SCOPE = "search:read"
QUERY = "spiffe"
EXPECTED_MOVES = {
    'spiffebind_tokens_issued_total{result="allow"}': 1.0,
    'spiffebind_token_verifications_total{result="allow"}': 2.0,
    'spiffebind_token_verifications_total{reason="binding_mismatch",result="deny"}': 2.0,
    'spiffebind_token_verifications_total{reason="binding_missing",result="deny"}': 1.0,
    'spiffebind_token_verifications_total{reason="revoked",result="deny"}': 1.0,
    'spiffebind_revocations_total{kind="txn"}': 1.0,
}
EXPECTED_DECISIONS = [
    ("issue", "allow", ""),
    ("verify", "allow", ""),
    ("verify", "deny", "binding_mismatch"),
    ("verify", "allow", ""),
    ("verify", "deny", "binding_mismatch"),
    ("verify", "deny", "binding_missing"),
    ("revoke", "allow", ""),
    ("verify", "deny", "revoked"),
]


def call_tool(n: Narrator, caller: Worker, port: int, token: str) -> Message:
    name = caller.workload.name
    lead = f"{name} -> tool: "
    n.say(f"{lead}GET /search?q={QUERY} with Authorization: Bearer <the token>,")
    n.say(f"{' ' * len(lead)}over mTLS with the {name}'s own SVID")
    n.say("tool -> spiffebind: VerifyToken(token, the certificate the caller presented)")
    answer = caller.ask("call", port=port, tool_id=TOOL.spiffe_id, token=token, query=QUERY)
    return heard(n, answer, "the tool answers")


def heard(n: Narrator, answer: Message, what: str) -> Message:
    """The tool's answer as the caller got it: status, and the challenge of a refusal."""
    if not answer["ok"]:
        n.fail(what, answer["error"])
    n.say(f"<- {answer['status']} {answer['reason']}")
    if answer["www_authenticate"]:
        n.say(f"   WWW-Authenticate: {answer['www_authenticate']}")
    return answer


def call_via_proxy(n: Narrator, caller: Worker, port: int, token: str, *, dpop: bool) -> Message:
    name = caller.workload.name
    lead = f"{name} -> proxy: "
    pad = " " * len(lead)
    n.say(f"{lead}POST /via-proxy/search with a JSON-RPC body,")
    if dpop:
        n.say(f"{pad}Authorization: DPoP <the token>, DPoP: a proof signed with its own SVID key")
    else:
        n.say(f"{pad}Authorization: Bearer <the token>, and no proof")
    n.say("proxy -> tool: the same request in plain HTTP; TLS and the certificate end at the proxy")
    sees = "DPoP proof, method, URL, SHA-256 of the body" if dpop else "no certificate, no proof"
    n.say(f"tool -> spiffebind: VerifyToken(token, {sees})")
    answer = caller.ask(
        "call_via_proxy", port=port, tool_id=TOOL.spiffe_id, token=token, query=QUERY, dpop=dpop
    )
    return heard(n, answer, "the tool answers through the proxy")


def refused_for(
    n: Narrator, answer: Message, reason: str, why: str, scheme: str = "Bearer"
) -> None:
    challenge = f'{scheme} error="invalid_token", error_description="{reason}"'
    n.check(
        answer["status"] == 401 and answer["www_authenticate"] == challenge,
        f"refused with {reason}: {why}",
        f"{answer['status']} {answer['www_authenticate']!r}",
    )


def play(n: Narrator, stack: contextlib.ExitStack) -> None:
    n.title("spiffebind demo: a task-bound token is used, stolen and revoked, with real SPIRE.")
    stage = set_up(n, stack)
    agent, intruder, port = stage.agent, stage.intruder, stage.tool_port
    before = records.scrape(stage.sandbox.metrics_address)

    n.step("The agent gets a token for one task and one tool")
    n.say(f"agent -> spiffebind: IssueToken(audience {TOOL.spiffe_id}, scope {SCOPE},")
    n.say(f"                     txn {TXN}), a request signed with the agent's own SVID key")
    token = agent.ask("token", audience=TOOL.spiffe_id, scopes=[SCOPE], txn=TXN, ttl=300)
    n.check(token["ok"], "spiffebind issues it", token.get("error", ""))
    access = token["access_token"]
    n.say(f"<- {access[:20]}... ({len(access)} chars), jti {token['jti']}, scope {token['scope']},")
    n.say(f"   txn {token['txn']}, valid {token['lifetime']} s, cnf x5t#S256 {token['cnf']}")
    n.check(
        token["cnf"] == token["own_x5t"],
        "bound to the agent's own certificate (cnf = SHA-256 of the agent's SVID)",
        f"cnf {token['cnf']}, agent's SVID {token['own_x5t']}",
    )

    n.step("The agent calls the tool over mTLS; the tool verifies the call through spiffebind")
    answer = call_tool(n, agent, port, access)
    verified = answer["body"].get("verified", {}) if isinstance(answer["body"], dict) else {}
    subject, scope, chain = (verified.get(k) for k in ("subject", "scope", "chain"))
    n.say(f"   verified by spiffebind: subject {subject}, scope {scope},")
    n.say(f"   delegation chain {chain} (the subject alone: nobody acts on its behalf)")
    n.check(
        answer["status"] == 200 and verified.get("chain") == [AGENT.spiffe_id],
        "200, and the tool knows the call comes from the agent",
        f"{answer['status']} {answer['body']}",
    )

    n.step("A stolen copy of the token is useless without the agent's key")
    n.say("The token leaks (a log line, a compromised tool...) to another workload on the node,")
    n.say(f"{INTRUDER.spiffe_id}, which has a perfectly valid SVID of its own.")
    refused_for(
        n,
        call_tool(n, intruder, port, access),
        "binding_mismatch",
        "the token is bound to the agent's certificate, not the intruder's",
    )

    n.step("Behind a proxy that ends TLS the tool sees no certificate: possession by DPoP")
    n.say(f"The token also names the agent's key: cnf.jkt {token['jkt']} (RFC 7638).")
    through = call_via_proxy(n, agent, port, access, dpop=True)
    n.check(
        through["status"] == 200 and through["body"]["verified"]["chain"] == [AGENT.spiffe_id],
        "200: the proof was made with the key the token is bound to, for this very request",
        f"{through['status']} {through['body']}",
    )
    refused_for(
        n,
        call_via_proxy(n, intruder, port, access, dpop=True),
        "binding_mismatch",
        "the intruder can only sign with its own key",
        "DPoP",
    )
    refused_for(
        n,
        call_via_proxy(n, intruder, port, access, dpop=False),
        "binding_missing",
        "a bound token without a certificate or a proof is no bearer token",
    )

    n.step("The task ends: the agent revokes it, and its next call with the token is refused")
    n.say(f"agent -> spiffebind: RevokeToken(txn {TXN}), signed with the agent's SVID key")
    revoked = agent.ask("revoke", txn=TXN)
    n.check(
        revoked["ok"] and revoked["newly_revoked"],
        "every token of the task is revoked",
        str(revoked),
    )
    refused_for(
        n, call_tool(n, agent, port, access), "revoked", "the task it was issued for is over"
    )

    n.step("What spiffebind recorded: metrics and the audit trail")
    show_records(n, stage.sandbox, before)


def show_records(n: Narrator, sandbox: Sandbox, before: records.Counters) -> None:
    moves = records.moved(before, records.scrape(sandbox.metrics_address))
    n.say(f"Counters that moved (GET http://{sandbox.metrics_address}/metrics):")
    for key, (old, new) in moves.items():
        n.say(f"{key}  {old:g} -> {new:g}", 4)
    deltas = {key: new - old for key, (old, new) in moves.items()}
    n.check(
        all(deltas.get(key) == delta for key, delta in EXPECTED_MOVES.items()),
        "one issuance, two verifications allowed, two binding_mismatch, one binding_missing,"
        " one revoked, one revocation",
        str(moves),
    )
    log = sandbox.daemon.audit_log

    def decisions() -> list[tuple[str, str, str]]:
        events = records.audit_events(log)
        return [(e["event"], e["decision"], e["reason"]) for e in events if e["event"] != "startup"]

    with contextlib.suppress(TimeoutError):
        wait_for(lambda: decisions() == EXPECTED_DECISIONS, timeout=5, what="the audit trail")
    events = records.audit_events(log)
    n.say(f"Audit trail ({log}, {len(events)} events, each line hash-chained to the one before):")
    for event in events:
        n.say(records.describe(event), 4)
    n.check(
        decisions() == EXPECTED_DECISIONS, "each decision is in the audit trail", str(decisions())
    )
    n.say(f"$ spiffebind audit verify {log}")
    done = records.verify_audit(log)
    n.say((done.stdout + done.stderr).strip(), 4)
    n.check(done.returncode == 0, "the hash chain is intact", f"exit {done.returncode}")


def _play_through(n: Narrator, signals: StopSignals) -> tuple[int, str]:
    """The exit code and the last word; a signal's own code is set by the caller."""
    try:
        with contextlib.ExitStack() as stack, signals.held_on_exit():
            play(n, stack)
    except Stopped:
        return 0, ""
    except ConfigError as exc:
        return 2, f"The demo cannot run here: {exc}"
    except (SpiffebindError, RuntimeError, TimeoutError) as exc:
        return 1, f"The demo FAILED: {exc}"
    return 0, "The demo behaved as narrated."


def main() -> int:
    if os.geteuid() != 0:
        print(
            "spiffebind demo: needs root: it runs each workload under its own uid and gid,"
            " which is how SPIRE tells them apart",
            file=sys.stderr,
        )
        return 2
    n = Narrator()
    with StopSignals() as signals:
        code, summary = _play_through(n, signals)
    if signals.received:  # even one that came during the clean-up: the user asked to stop
        code = 128 + signals.received
        summary = f"Interrupted by {signal.Signals(signals.received).name}."
    n.say(f"\n{summary} Everything it started is stopped, its temp dirs removed.", indent=0)
    return code
