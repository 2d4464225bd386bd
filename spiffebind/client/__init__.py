"""The agent SDK: bound tokens for tasks from the node's spiffebind daemon."""

from spiffebind.client.agent import AgentClient
from spiffebind.client.aio import AsyncAgentClient
from spiffebind.client.core import BoundToken
from spiffebind.client.credentials import (
    Credentials,
    SourceCredentials,
    StaticCredentials,
    from_files,
    from_workload_api,
)

__all__ = [
    "AgentClient",
    "AsyncAgentClient",
    "BoundToken",
    "Credentials",
    "SourceCredentials",
    "StaticCredentials",
    "from_files",
    "from_workload_api",
]
