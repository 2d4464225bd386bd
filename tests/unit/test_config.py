from pathlib import Path

import pytest

from spiffebind import config as cfg
from spiffebind.errors import ConfigError
from spiffebind.options import read_config_file


def test_config_file_keys_are_normalised(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("socket: /tmp/x.sock\nmetrics-address: 127.0.0.1:0\n")
    assert read_config_file(f, {"socket", "metrics_address"}) == {
        "socket": "/tmp/x.sock",
        "metrics_address": "127.0.0.1:0",
    }


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("sockett: /tmp/x.sock\n")
    with pytest.raises(ConfigError, match="unknown key 'sockett'"):
        read_config_file(f, {"socket"})


@pytest.mark.parametrize("body", ["- a\n- b\n", "a: [\n"])
def test_config_file_must_be_a_mapping(tmp_path: Path, body: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(body)
    with pytest.raises(ConfigError, match=str(f)):
        read_config_file(f, {"a"})


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        read_config_file(tmp_path / "nope.yaml", set())


def test_bundle_args() -> None:
    assert cfg.parse_bundle_args(
        "--bundle", ["example.org=/a.pem", "spiffe://other.org=/b.pem"]
    ) == {
        "example.org": Path("/a.pem"),
        "other.org": Path("/b.pem"),
    }
    with pytest.raises(ConfigError, match="TRUST_DOMAIN=PEM"):
        cfg.parse_bundle_args("--bundle", ["/a.pem"])
    with pytest.raises(ConfigError, match="invalid trust domain"):
        cfg.parse_bundle_args("--bundle", ["Bad Domain=/a.pem"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9090", ("127.0.0.1", 9090)), (":0", ("127.0.0.1", 0)), ("[::1]:80", ("::1", 80))],
)
def test_address(text: str, expected: tuple[str, int]) -> None:
    assert cfg.parse_address("--metrics-address", text) == expected


@pytest.mark.parametrize("text", ["9090", "host:", "host:99999", "host:x"])
def test_bad_address(text: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        cfg.parse_address("--metrics-address", text)


def _tcp(text: str) -> tuple[str, int]:
    return cfg.parse_address("--ext-authz-address", text)


@pytest.mark.parametrize("text", ["127.0.0.1:9191", "[::1]:9191", "localhost:9191", ":9191"])
def test_ext_authz_plaintext_is_allowed_on_loopback(text: str) -> None:
    cfg.check_ext_authz_address(_tcp(text), plaintext=True)


@pytest.mark.parametrize("text", ["0.0.0.0:9191", "10.0.0.7:9191", "[::]:9191", "node-1:9191"])
def test_ext_authz_plaintext_is_refused_off_loopback(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--ext-authz-plaintext: .* not a loopback"):
        cfg.check_ext_authz_address(_tcp(text), plaintext=True)
    cfg.check_ext_authz_address(_tcp(text), plaintext=False)


def test_ext_authz_plaintext_needs_an_address() -> None:
    cfg.check_ext_authz_address(None, plaintext=False)
    with pytest.raises(ConfigError, match="needs --ext-authz-address"):
        cfg.check_ext_authz_address(None, plaintext=True)
    with pytest.raises(ConfigError, match="--ext-authz-address 'x': expected HOST:PORT"):
        _tcp("x")


@pytest.mark.parametrize(
    "parts",
    [
        {"svid": Path("a")},
        {"svid": Path("a"), "svid_key": Path("k")},
        {"bundles": {"example.org": Path("b")}},
    ],
)
def test_file_identity_needs_all_parts(parts: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="go together"):
        cfg.validated(cfg.DaemonConfig(workload_api="unix:///x.sock", **parts))  # type: ignore[arg-type]


def test_file_identity_with_all_parts() -> None:
    parts = {"svid": Path("a"), "svid_key": Path("k"), "bundles": {"example.org": Path("b")}}
    config = cfg.validated(cfg.DaemonConfig(**parts))  # type: ignore[arg-type]
    assert config.files == cfg.FileIdentity(Path("a"), Path("k"), {"example.org": Path("b")})
    assert cfg.DaemonConfig().files is None


def test_workload_api_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIFFE_ENDPOINT_SOCKET", "unix:///x.sock")
    assert cfg.workload_api_endpoint(None) == "unix:///x.sock"
    monkeypatch.delenv("SPIFFE_ENDPOINT_SOCKET")
    with pytest.raises(ConfigError, match="no identity source"):
        cfg.workload_api_endpoint(None)


@pytest.mark.parametrize(
    ("d", "m", "s", "why"),
    [(0, 10, 1, "must be positive"), (20, 10, 1, "exceeds --max-ttl"), (5, 10, 301, "0 and 300")],
)
def test_ttls_refused(d: int, m: int, s: int, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        cfg.check_ttls(d, m, s)
