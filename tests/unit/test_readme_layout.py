"""The README's package layout table names every package and module of ``spiffebind/``, and
nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_layout_table_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Package layout", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(spiffebind/[^`]+)` \|", section, flags=re.MULTILINE))
    package = ROOT / "spiffebind"
    tree = {
        f"spiffebind/{p.name}/" if p.is_dir() else f"spiffebind/{p.name}"
        for p in package.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert rows == tree
