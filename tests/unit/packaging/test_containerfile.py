"""Containerfile structure: no engine runs here, so the rules are checked on the text.

Checked: a builder and a runtime stage on python:3.11-slim; the runtime stage takes nothing
from the build context and only the builder's wheels (through a bind mount, so they leave no
layer); pip keeps no cache and installs offline; the image runs as a fixed non-root user.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CONTAINERFILE = ROOT / "Containerfile"

Instruction = tuple[str, str]


def _instructions() -> list[Instruction]:
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _stages() -> dict[str, list[Instruction]]:
    stages: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            image, _, name = rest.partition(" AS ")
            current = stages.setdefault(name.strip(), [("FROM", image.strip())])
        else:
            current.append((keyword, rest))
    return stages


def _args(stage: list[Instruction], keyword: str) -> list[str]:
    return [rest for k, rest in stage if k == keyword]


def _base_image() -> str:
    (default,) = [
        rest.split("=", 1)[1]
        for k, rest in _instructions()
        if k == "ARG" and "PYTHON_IMAGE=" in rest
    ]
    return default


def test_two_stages_on_python_slim() -> None:
    stages = _stages()
    assert list(stages) == ["builder", "runtime"]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", _base_image())
    for stage in stages.values():
        assert stage[0] == ("FROM", "${PYTHON_IMAGE}")


def test_builder_makes_wheels_from_the_sources() -> None:
    builder = _stages()["builder"]
    copied = {source for rest in _args(builder, "COPY") for source in shlex.split(rest)[:-1]}
    assert copied == {"pyproject.toml", "README.md", "LICENSE", "spiffebind/"}
    wheel = '--wheel-dir /wheels ".[daemon]"'  # the daemon's extra dependencies too
    assert any("pip wheel" in run and wheel in run for run in _args(builder, "RUN"))


def test_runtime_takes_only_the_wheels() -> None:
    runtime = _stages()["runtime"]
    assert _args(runtime, "COPY") == []
    assert _args(runtime, "ADD") == []
    (install,) = _args(runtime, "RUN")
    assert install.startswith("--mount=type=bind,from=builder,source=/wheels,target=/wheels ")
    assert '--no-index --find-links=/wheels "spiffebind[daemon]"' in install


def test_no_pip_cache_and_no_build_tools() -> None:
    runtime = _stages()["runtime"]
    (install,) = _args(runtime, "RUN")
    assert "pip install --no-cache-dir" in install
    assert any("PIP_NO_CACHE_DIR=1" in env for env in _args(runtime, "ENV"))
    assert "pip uninstall --yes setuptools wheel pip" in install
    assert not re.search(r"apt-get|apk |gcc|build-essential|python3-dev", install)


def test_runs_as_fixed_non_root_user() -> None:
    runtime = _stages()["runtime"]
    (user,) = _args(runtime, "USER")
    uid, _, gid = user.partition(":")
    assert int(uid) != 0
    assert int(gid) != 0
    assert runtime[-3][0] == "USER", "USER must come after every RUN"
    assert json.loads(_args(runtime, "ENTRYPOINT")[0]) == ["spiffebind"]
    assert json.loads(_args(runtime, "CMD")[0]) == [
        "run",
        "--config",
        "/etc/spiffebind/config.yaml",
    ]


def test_build_context_excludes_the_venv() -> None:
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p[:1] not in "#"]
    assert patterns[0] == "*", "exclude everything, then re-include what the builder copies"
    assert {"!pyproject.toml", "!README.md", "!spiffebind/"} <= set(patterns)
