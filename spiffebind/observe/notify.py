"""Tell systemd how the daemon is doing (sd_notify) without linking libsystemd.

The protocol is one datagram of ``KEY=VALUE`` lines to the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (a leading ``@`` names an abstract socket). Outside systemd the variable is
unset and every function here is a no-op, so the daemon calls them unconditionally. A failed
send must never take the daemon down: systemd only loses a status update, so it is logged at
debug level and reported as ``False``.

``READY=1`` goes out only once the first SVID is held and the API socket listens. The unit sets
``WatchdogSec=``, so :func:`watchdog_pings` must run on the event loop: systemd arms the
watchdog when READY=1 arrives and restarts a daemon that then stays silent for the timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

log = logging.getLogger(__name__)


def _address(target: str) -> str | None:
    if target.startswith("@"):
        return "\0" + target[1:]
    if target.startswith("/"):
        return target
    return None  # vsock: and other transports are not used by the systemd we target


def notify(state: str) -> bool:
    """Send one notification; True if a datagram left, False if unset or the send failed."""
    target = os.environ.get("NOTIFY_SOCKET", "")
    if not target:
        return False
    address = _address(target)
    if address is None:
        log.debug("sd_notify: unsupported NOTIFY_SOCKET %r", target)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.debug("sd_notify %r to %r failed: %s", state, target, exc)
        return False
    return True


def notify_ready() -> bool:
    """Startup (or a reload) is complete: systemd starts ordering dependants after us."""
    return notify("READY=1")


def notify_stopping() -> bool:
    """Shutdown has begun, so ``systemctl status`` shows it while calls drain."""
    return notify("STOPPING=1")


def notify_reloading() -> bool:
    """A reload has begun; finish it with :func:`notify_ready`.

    ``MONOTONIC_USEC`` lets systemd >= 253 (``Type=notify-reload``) tell this reload from an
    older one; systemd 252 ignores it.
    """
    return notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")


def notify_watchdog() -> bool:
    """Prove to systemd's watchdog that the event loop still runs."""
    return notify("WATCHDOG=1")


def watchdog_interval() -> float | None:
    """The watchdog timeout in seconds when systemd expects pings from this process, else None.

    Like ``sd_watchdog_enabled()``: WATCHDOG_USEC must be a positive integer and WATCHDOG_PID,
    when set, must be our PID (a child that inherited the environment must not ping).
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000


async def watchdog_pings() -> None:
    """Ping at half the timeout for as long as the loop runs; returns at once without one.

    Liveness of the event loop only: an unreachable SPIRE agent must not get the daemon
    killed, because the identity source already reconnects on its own.
    """
    interval = watchdog_interval()
    if interval is None:
        return
    while True:
        notify_watchdog()
        await asyncio.sleep(interval / 2)
