"""One demo workload in its own process: drop to its own uid, get its SVID, obey the demo.

It starts as root only long enough to load Python and every module it will use
(:mod:`spiffebind.demo.preload`: the interpreter, the virtualenv and the checkout may live
where other uids cannot read them, as under a mode-0700 /root), then drops to its own uid
and gid for good, and only then asks the Workload API who it is, so SPIRE attests it by
that uid. Requests come as JSON lines on stdin, answers go as JSON lines
on stdout (:mod:`spiffebind.demo.protocol`); the end of stdin ends the process.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from spiffebind.demo import agent, tool
from spiffebind.demo.preload import forbid_imports, load_everything
from spiffebind.demo.protocol import Handler, Role, parse, send
from spiffebind.errors import IdentityError, SpiffebindError
from spiffebind.identity.source import IdentitySource
from spiffebind.identity.workload_api import WorkloadApiSource

RoleFactory = Callable[[IdentitySource, Path, Path], contextlib.AbstractContextManager[Role]]
ROLES: Mapping[str, RoleFactory] = {"agent": agent.role, "tool": tool.role}
SVID_TIMEOUT = 30.0


def drop_privileges(uid: int, gid: int) -> None:
    """For good: real, effective and saved ids, and no supplementary groups. Every module is
    loaded before, and none after, since only root may be able to read them."""
    load_everything()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    forbid_imports()


@contextlib.contextmanager
def own_svid(endpoint: str, spiffe_id: str) -> Iterator[IdentitySource]:
    """The Workload API as a source that follows rotations, once it serves ``spiffe_id``."""
    source = WorkloadApiSource(endpoint)
    source.start()
    try:
        served = source.wait_ready(SVID_TIMEOUT).spiffe_id
        if served != spiffe_id:
            raise IdentityError(f"SPIRE gave this workload {served}, expected {spiffe_id}")
        yield source
    finally:
        source.close()


def obey(handlers: Mapping[str, Handler]) -> None:
    """Answer each request line until stdin ends; a refused op is an answer, not a crash."""
    for line in sys.stdin.buffer:
        request = parse(line)
        op = request.pop("op")
        try:
            send(sys.stdout.buffer, {"ok": True, **handlers[op](**request)})
        except (SpiffebindError, OSError) as exc:
            send(sys.stdout.buffer, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spiffebind.demo.worker")
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--spiffe-id", required=True)
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--gid", type=int, required=True)
    parser.add_argument("--daemon-socket", type=Path, required=True)
    parser.add_argument("--key-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    drop_privileges(args.uid, args.gid)
    endpoint = os.environ["SPIFFE_ENDPOINT_SOCKET"]
    with (
        own_svid(endpoint, args.spiffe_id) as source,
        ROLES[args.role](source, args.daemon_socket, args.key_dir) as role,
    ):
        ready = {"spiffe_id": args.spiffe_id, "uid": os.getuid(), "gid": os.getgid()}
        send(sys.stdout.buffer, {"ready": True, **ready, **role.ready})
        obey(role.handlers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
