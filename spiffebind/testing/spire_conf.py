"""HCL configuration for the SPIRE test bed: a fast-syncing server and agent in temp dirs.

Every key here was checked against SPIRE v1.13.3 (``doc/spire_server.md``,
``doc/spire_agent.md``, the plugin docs, and the ``hcl:`` tags in ``cmd/spire-*/cli/run``).
The two ``experimental`` intervals are what make tests fast: a new or changed entry reaches
the agent in about two seconds instead of ten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


def _q(value: str | Path) -> str:
    """An HCL string literal (HCL accepts JSON string escapes)."""
    return json.dumps(str(value))


@dataclass(frozen=True)
class ServerConf:
    trust_domain: str
    port: int
    socket_path: Path
    data_dir: Path
    default_x509_svid_ttl: int
    agent_ttl: int = 3600
    log_level: str = "WARN"

    def render(self) -> str:
        return f"""\
server {{
    bind_address = "127.0.0.1"
    bind_port = {self.port}
    socket_path = {_q(self.socket_path)}
    trust_domain = {_q(self.trust_domain)}
    data_dir = {_q(self.data_dir)}
    log_level = {_q(self.log_level)}
    ca_ttl = "24h"
    agent_ttl = "{self.agent_ttl}s"
    default_x509_svid_ttl = "{self.default_x509_svid_ttl}s"
    default_jwt_svid_ttl = "5m"
    experimental {{
        cache_reload_interval = "1s"
    }}
}}
plugins {{
    DataStore "sql" {{
        plugin_data {{
            database_type = "sqlite3"
            connection_string = {_q(self.data_dir / "datastore.sqlite3")}
        }}
    }}
    KeyManager "disk" {{
        plugin_data {{
            keys_path = {_q(self.data_dir / "keys.json")}
        }}
    }}
    NodeAttestor "join_token" {{
        plugin_data {{}}
    }}
}}
"""


@dataclass(frozen=True)
class AgentConf:
    trust_domain: str
    server_port: int
    socket_path: Path
    data_dir: Path
    trust_bundle_path: Path
    log_level: str = "WARN"

    def render(self) -> str:
        return f"""\
agent {{
    data_dir = {_q(self.data_dir)}
    log_level = {_q(self.log_level)}
    server_address = "127.0.0.1"
    server_port = {self.server_port}
    socket_path = {_q(self.socket_path)}
    trust_bundle_path = {_q(self.trust_bundle_path)}
    trust_domain = {_q(self.trust_domain)}
    experimental {{
        sync_interval = "1s"
    }}
}}
plugins {{
    NodeAttestor "join_token" {{
        plugin_data {{}}
    }}
    KeyManager "disk" {{
        plugin_data {{
            directory = {_q(self.data_dir)}
        }}
    }}
    WorkloadAttestor "unix" {{
        plugin_data {{}}
    }}
}}
"""
