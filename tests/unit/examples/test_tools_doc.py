"""docs/tools.md's examples are meant to be copied: each Python block compiles, and every name
it imports from spiffebind, the frameworks and the SDK exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[3] / "docs" / "tools.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_page_has_an_example_per_framework() -> None:
    text = "\n".join(BLOCKS)
    for adapter in ("SpiffebindMiddleware", "ServerInterceptor", "McpGuard", "McpBoundTokenAuth"):
        assert adapter in text, adapter


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_each_block_compiles_and_its_imports_exist(block: str) -> None:
    tree = ast.parse(block)
    compile(tree, str(DOC), "exec")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
