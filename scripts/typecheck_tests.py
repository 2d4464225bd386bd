"""mypy over the tests (``make lint``), with the settings in tests/mypy.ini.

Test helpers are imported by bare name (``from tokenkit import ...``) from their own
directory, as pytest's default import mode allows, and several directories have a
``conftest.py``; mypy wants one name per module, so each directory holding a conftest or
helpers is checked in a run of its own with that directory on the module path, and all the
other test files together in one more run.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
CONFIG = TESTS / "mypy.ini"


def groups() -> list[tuple[str, list[Path]]]:
    """(module path, files) per mypy run."""
    by_dir: dict[Path, list[Path]] = defaultdict(list)
    for path in sorted(TESTS.rglob("*.py")):
        by_dir[path.parent].append(path)
    runs: list[tuple[str, list[Path]]] = []
    plain: list[Path] = []
    for directory, files in sorted(by_dir.items()):
        if all(f.name.startswith("test_") for f in files):
            plain.extend(files)
        else:
            runs.append((str(directory), files))
    return [*runs, ("", plain)]


def main() -> int:
    failed = False
    for module_path, files in groups():
        os.environ["MYPYPATH"] = module_path
        stdout, stderr, status = api.run(["--config-file", str(CONFIG), *map(str, files)])
        if status:
            failed = True
            sys.stdout.write(stdout)
            sys.stderr.write(stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
