"""Process limits the daemon sets for itself at start-up.

Every client connection holds a descriptor for as long as it stays open, idle or not, and
distributions still start services with a soft limit of 1024; the hard limit is what the
administrator granted, so the daemon raises its soft limit to it (as Go programs do).
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard in (resource.RLIM_INFINITY, soft):
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open-files limit from %d to %d: %s", soft, hard, exc)
        return soft
    log.info("open-files limit raised from %d to %d", soft, hard)
    return hard
