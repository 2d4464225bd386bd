"""The layering contracts in pyproject.toml ([tool.importlinter]) that ``make lint`` checks:
a tree that breaks one fails the check, naming the contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        ROOT / "spiffebind", root / "spiffebind", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("token/jose.py", "import socket", "do no I/O"),
        ("policy/model.py", "import spiffebind.state", "import no shell package"),
        ("service/params.py", "import grpc", "no gRPC"),
        ("api/jwks.py", "import spiffebind.client.channel", "api/ does not import the SDK"),
        ("client/core.py", "import spiffebind.service.params", "SDK imports no daemon"),
    ],
)
def test_a_forbidden_import_fails_the_check(
    tree: Path, module: str, statement: str, contract: str
) -> None:
    path = tree / "spiffebind" / module
    original = path.read_text()
    path.write_text(f"{original}\n{statement}  # noqa\n")
    try:
        result = _lint(tree)
    finally:
        path.write_text(original)

    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert len(broken) == 1, result.stdout
    assert contract in broken[0]
