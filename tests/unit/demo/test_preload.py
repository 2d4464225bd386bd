"""A demo worker loads every module before it drops root and can load none after.

Runs in a child process, since the guard stays for the life of the process it is put in.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority

AFTER_THE_DROP = textwrap.dedent(
    """
    import sys
    from spiffebind.demo.preload import forbid_imports, load_everything
    load_everything()
    forbid_imports()
    # What a worker does once it has dropped root: follow its SVID, open TLS contexts and
    # a channel to the daemon, fail to reach it.
    from spiffebind.client import AgentClient, SourceCredentials
    from spiffebind.client.mtls import client_context, server_context
    from spiffebind.errors import UnreachableError
    from spiffebind.identity.workload_api import WorkloadApiSource
    with WorkloadApiSource(sys.argv[1]) as source:
        svid = source.wait_ready(10).signing
        bundle = source.bundles()["example.org"]
        client_context(svid, bundle), server_context(svid, bundle)
        me = SourceCredentials(source)
        with AgentClient(credentials=me, socket="/nonexistent.sock") as agent:
            try:
                agent.token("spiffe://example.org/tool", ["read"], txn="t")
            except UnreachableError:
                pass
    "x".encode("idna")
    try:
        import tabnanny
    except ImportError as refused:
        print(refused)
    """
)


@pytest.fixture
def endpoint() -> Iterator[str]:
    ca = Authority.root("example.org")
    with FakeWorkloadApi() as api:
        api.set_x509(ca.issue("spiffe://example.org/agent"), bundle=[ca.root_cert])
        yield api.endpoint


def test_after_the_drop_a_worker_runs_on_preloaded_modules_only(endpoint: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", AFTER_THE_DROP, endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == (
        "tabnanny was first imported after the worker dropped root; "
        "add its package to spiffebind.demo.preload.PACKAGES"
    )
