"""Policy: which client may get which audiences, scopes and lifetime (pure, default deny).

Loading turns a YAML file into immutable rules; an engine answers each request with a
:class:`Decision` that names the rule that allowed it or says why none did. The same engine
re-checks every token at verification, so a policy change applies to tokens already issued.
"""

from spiffebind.policy.claims import request_from_claims
from spiffebind.policy.evaluate import PolicyEngine, RuleEngine
from spiffebind.policy.load import parse_policy
from spiffebind.policy.model import Decision, Policy, Request, Rule

__all__ = [
    "Decision",
    "Policy",
    "PolicyEngine",
    "Request",
    "Rule",
    "RuleEngine",
    "parse_policy",
    "request_from_claims",
]
