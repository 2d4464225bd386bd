"""The shapes of the names that tokens, signed requests, policies and routes share, each
written once so what a policy may grant is what a request may ask for.

Pure patterns, importable from the core (``token/``, ``policy/``) and the shell alike.
"""

from __future__ import annotations

import re

SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")
"""RFC 6749 section 3.3 scope-token (no spaces, quotes or backslashes, so it fits a
``WWW-Authenticate`` header), at most 256 characters."""

JTI = re.compile(r"[A-Za-z0-9_-]{22,128}")
"""A token or proof id: at least 22 base64url characters, 128 bits of randomness or more."""
