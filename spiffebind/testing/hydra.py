"""A real Ory Hydra v2 for integration tests: the upstream OAuth2 authorization server.

In-memory store (``dsn: memory``), JWT access tokens, public and admin ports on 127.0.0.1
only, one process stopped by its PID. Clients are created through the admin API; tokens come
from the client_credentials grant. The binary comes from ``$HYDRA_BIN_DIR`` (default
``~/.cache/spiffebind/hydra/v2.3.0/bin``, built by ``scripts/install-hydra.sh``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from spiffebind.testing.poll import wait_for
from spiffebind.testing.ports import free_port
from spiffebind.testing.spire_processes import end_process

DEFAULT_BIN_DIR = Path.home() / ".cache" / "spiffebind" / "hydra" / "v2.3.0" / "bin"
_CONFIG = """dsn: memory
serve:
  public: {{host: 127.0.0.1, port: {public}}}
  admin: {{host: 127.0.0.1, port: {admin}}}
urls:
  self: {{issuer: "http://127.0.0.1:{public}"}}
strategies:
  access_token: jwt
secrets:
  system: ["{secret}"]
log: {{level: warn}}
"""


def hydra_binary(bin_dir: Path | None = None) -> Path:
    directory = bin_dir or Path(os.environ.get("HYDRA_BIN_DIR") or DEFAULT_BIN_DIR)
    binary = directory / "hydra"
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing; build it with `make hydra`")
    return binary


def _call(
    url: str,
    *,
    data: bytes | None = None,
    headers: Mapping[str, str] = {},
    method: str = "GET",
    timeout: float = 10.0,
) -> Any:
    request = urllib.request.Request(url, data=data, headers=dict(headers), method=method)  # noqa: S310 - local
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
        return json.loads(response.read() or b"null")


class HydraServer:
    """``start()``/``close()``; ``issuer`` is the ``iss`` of its tokens."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.binary = hydra_binary(bin_dir)
        self.root = Path(tempfile.mkdtemp(prefix="sbh", dir="/tmp"))
        self.public_port, self.admin_port = free_port(), free_port()
        self.issuer = f"http://127.0.0.1:{self.public_port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.log_file = self.root / "hydra.log"
        (self.root / "hydra.yaml").write_text(
            _CONFIG.format(
                public=self.public_port,
                admin=self.admin_port,
                secret=base64.b64encode(os.urandom(24)).decode(),
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    @property
    def introspection_url(self) -> str:
        return f"{self.admin}/admin/oauth2/introspect"

    def start(self, timeout: float = 60.0) -> Self:
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "serve", "all", "--dev", "-c", str(self.root / "hydra.yaml")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.root,
            )
        try:
            wait_for(self._ready, timeout=timeout, what=f"hydra on {self.admin}")
            # Hydra creates its signing keys (RSA 4096) on first use, which takes seconds: do
            # it now, so the first JWKS fetch of a test is as quick as every later one.
            _call(self.jwks_url, timeout=timeout)
        except BaseException:
            self.stop()  # a failed start leaves no process behind (``with`` skips __exit__)
            raise
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = self.log_file.read_text(errors="replace")
            raise RuntimeError(f"hydra exited with {self.proc.returncode}:\n{log}")
        try:
            return bool(_call(f"{self.admin}/health/ready").get("status") == "ok")
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def create_client(
        self,
        client_id: str,
        secret: str,
        *,
        scopes: Sequence[str],
        audience: Sequence[str],
        token_lifespan: str | None = None,
    ) -> None:
        """A confidential client_credentials client; ``token_lifespan`` like ``"2s"``."""
        body = {
            "client_id": client_id,
            "client_secret": secret,
            "grant_types": ["client_credentials"],
            "scope": " ".join(scopes),
            "audience": list(audience),
            "token_endpoint_auth_method": "client_secret_basic",
        }
        if token_lifespan is not None:
            body["client_credentials_grant_access_token_lifespan"] = token_lifespan
        _call(
            f"{self.admin}/admin/clients",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )

    def token(
        self, client_id: str, secret: str, *, scopes: Sequence[str], audience: Sequence[str]
    ) -> str:
        """An access token from the client_credentials grant (RFC 6749 4.4)."""
        form = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": " ".join(scopes)}
            | {"audience": " ".join(audience)}
        ).encode()
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        answer = _call(
            f"{self.issuer}/oauth2/token",
            data=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"Basic {basic}",
            },
            method="POST",
        )
        return str(answer["access_token"])

    def stop(self) -> None:
        if self.proc is not None:
            end_process(self.proc, 10.0)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
