from pathlib import Path

import pytest

from spiffebind import config as cfg
from spiffebind.errors import ConfigError


def test_config_file_keys_are_normalised(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("socket: /tmp/x.sock\nmetrics-address: 127.0.0.1:0\n")
    assert cfg.read_config_file(f, {"socket", "metrics_address"}) == {
        "socket": "/tmp/x.sock",
        "metrics_address": "127.0.0.1:0",
    }


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("sockett: /tmp/x.sock\n")
    with pytest.raises(ConfigError, match="unknown key 'sockett'"):
        cfg.read_config_file(f, {"socket"})


@pytest.mark.parametrize("body", ["- a\n- b\n", "a: [\n"])
def test_config_file_must_be_a_mapping(tmp_path: Path, body: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(body)
    with pytest.raises(ConfigError, match=str(f)):
        cfg.read_config_file(f, {"a"})


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        cfg.read_config_file(tmp_path / "nope.yaml", set())


def test_bundle_args() -> None:
    assert cfg.parse_bundle_args(["example.org=/a.pem", "spiffe://other.org=/b.pem"]) == {
        "example.org": Path("/a.pem"),
        "other.org": Path("/b.pem"),
    }
    with pytest.raises(ConfigError, match="TRUST_DOMAIN=PEM"):
        cfg.parse_bundle_args(["/a.pem"])
    with pytest.raises(ConfigError, match="invalid trust domain"):
        cfg.parse_bundle_args(["Bad Domain=/a.pem"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9090", ("127.0.0.1", 9090)), (":0", ("127.0.0.1", 0)), ("[::1]:80", ("::1", 80))],
)
def test_address(text: str, expected: tuple[str, int]) -> None:
    assert cfg.parse_address(text) == expected


@pytest.mark.parametrize("text", ["9090", "host:", "host:99999", "host:x"])
def test_bad_address(text: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        cfg.parse_address(text)


@pytest.mark.parametrize("text", ["127.0.0.1:9191", "[::1]:9191", "localhost:9191", ":9191"])
def test_ext_authz_plaintext_is_allowed_on_loopback(text: str) -> None:
    assert cfg.ext_authz_address(text, plaintext=True) is not None


@pytest.mark.parametrize("text", ["0.0.0.0:9191", "10.0.0.7:9191", "[::]:9191", "node-1:9191"])
def test_ext_authz_plaintext_is_refused_off_loopback(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--ext-authz-plaintext: .* not a loopback"):
        cfg.ext_authz_address(text, plaintext=True)
    assert cfg.ext_authz_address(text, plaintext=False) is not None


def test_ext_authz_plaintext_needs_an_address() -> None:
    assert cfg.ext_authz_address(None, plaintext=False) is None
    with pytest.raises(ConfigError, match="needs --ext-authz-address"):
        cfg.ext_authz_address(None, plaintext=True)
    with pytest.raises(ConfigError, match="--ext-authz-address 'x': expected HOST:PORT"):
        cfg.ext_authz_address("x", plaintext=False)


def test_file_identity_needs_all_parts() -> None:
    assert cfg.file_identity(None, None, {}) is None
    with pytest.raises(ConfigError, match="go together"):
        cfg.file_identity(Path("a"), None, {})


def test_workload_api_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIFFE_ENDPOINT_SOCKET", "unix:///x.sock")
    assert cfg.workload_api_endpoint(None) == "unix:///x.sock"
    monkeypatch.delenv("SPIFFE_ENDPOINT_SOCKET")
    with pytest.raises(ConfigError, match="no identity source"):
        cfg.workload_api_endpoint(None)


@pytest.mark.parametrize(("d", "m", "s"), [(0, 10, 1), (20, 10, 1), (5, 10, 301)])
def test_ttls_refused(d: int, m: int, s: int) -> None:
    with pytest.raises(ConfigError):
        cfg.check_ttls(d, m, s)
