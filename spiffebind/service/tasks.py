"""Who a task (``txn``) belongs to, as issuance, exchange and revocation ask it.

A task belongs to the client that first records it. Another client joins it only by
exchanging one of its tokens, and only members (or an admin) may revoke it, so no agent can
end, or squat inside, a task it was never handed. The decision stands behind this narrow
protocol: the local daemon keeps it in its ledger, a cluster can keep it in a shared
create-if-absent store.
"""

from __future__ import annotations

from typing import Protocol

from spiffebind.errors import Reason, RequestRejected


class Tasks(Protocol):
    def claim(self, txn: str, client_id: str, until: float) -> bool:
        """Make ``client_id`` the task's owner unless it has members already; True when
        ``client_id`` is a member now. The task is kept at least until ``until``."""
        ...

    def join(self, txn: str, client_id: str, until: float) -> None:
        """Add ``client_id``, which exchanged one of the task's tokens."""
        ...

    def is_member(self, txn: str, client_id: str) -> bool: ...

    def is_owned(self, txn: str) -> bool: ...


def claim(tasks: Tasks, txn: str, client_id: str, until: float) -> None:
    """Claim the task for a client that names it itself, or refuse when it is another's."""
    if not tasks.claim(txn, client_id, until):
        raise RequestRejected(
            Reason.POLICY_DENIED,
            f"task {txn!r} belongs to another client: join it by exchanging one of its tokens",
        )
