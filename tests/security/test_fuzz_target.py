"""The atheris target in fuzz/ imports and runs without atheris: every seed, and a few
inputs that must reach each of its three modes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TARGET = Path(__file__).parents[2] / "fuzz" / "verify_target.py"


@pytest.fixture(scope="module")
def target() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_target", TARGET)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_seed_runs_without_a_finding(target: ModuleType) -> None:
    seeds = target.seeds()
    assert len(seeds) > 60
    assert sum(name.startswith("dpop-") for name in seeds) >= 15
    for data in seeds.values():
        target.run_one(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x01not.a.proof",
        b'\x02{"alg":"ES256"}\n{"exp":1e400}',
        b"\x02\xff\n\xfe",
        b"\x03not.a.dpop.proof",
    ],
    ids=["empty", "mode-only", "proof", "signed-json", "signed-junk", "dpop-proof"],
)
def test_odd_inputs_run_without_a_finding(target: ModuleType, data: bytes) -> None:
    target.run_one(data)


def test_seeds_are_written_as_files(target: ModuleType, tmp_path: Path) -> None:
    target.main(["verify_target.py", "--seeds", str(tmp_path)])
    assert len(list(tmp_path.iterdir())) == len(target.seeds())
