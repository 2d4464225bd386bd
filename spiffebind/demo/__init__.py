"""``python -m spiffebind.demo``: the main job end to end, narrated, against real SPIRE.

An agent gets a token bound to its own X.509-SVID for one task and one tool, calls the tool
over mTLS, a stolen copy fails, revoking the task ends the token, and the daemon's metrics
and audit trail show what happened. Every step is checked, so the demo is also a smoke test.
"""
