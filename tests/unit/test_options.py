"""Each daemon option is declared once: docs/cli.md's table and the chart's ``config`` schema
are generated from the declarations, and ``make lint`` fails when either drifts."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import click
import pytest

from spiffebind.cli.run import run
from spiffebind.config import DaemonConfig
from spiffebind.options import options_of

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_options", ROOT / "scripts/gen_options.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_options = _script()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in (gen_options.DOC, gen_options.SCHEMA):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_committed_docs_and_chart_schema_are_generated() -> None:
    assert gen_options.main(["--check"]) == 0


def test_a_hand_edited_table_fails_the_check(copy: Path) -> None:
    doc = copy / gen_options.DOC
    doc.write_text(doc.read_text().replace("`3600`", "`7200`"))

    assert gen_options.main(["--check", "--root", str(copy)]) == 1
    assert gen_options.main(["--root", str(copy)]) == 0
    assert gen_options.main(["--check", "--root", str(copy)]) == 0


def test_a_hand_edited_chart_schema_fails_the_check(copy: Path) -> None:
    schema = copy / gen_options.SCHEMA
    data = json.loads(schema.read_text())
    del data["properties"]["config"]["properties"]["audit_required"]
    schema.write_text(json.dumps(data, indent=2))

    assert gen_options.main(["--check", "--root", str(copy)]) == 1


def test_the_chart_schema_names_only_options() -> None:
    data = json.loads((ROOT / gen_options.SCHEMA).read_text())
    chart_keys = set(data["properties"]["config"]["properties"])
    assert chart_keys <= {spec.name for _, spec in options_of(DaemonConfig)}
    assert {"socket", "state_dir", "metrics_address", "policy"}.isdisjoint(chart_keys)


def test_every_flag_has_its_spec_env_var() -> None:
    """cli spec: every daemon option has ``SPIFFEBIND_<OPTION_IN_UPPER_SNAKE>``."""
    params = {p.name: p for p in run.params if isinstance(p, click.Option)}
    for _, spec in options_of(DaemonConfig):
        if spec.file_only:
            assert spec.name not in params
            continue
        param = params[spec.name]
        assert param.opts == [spec.cli]
        assert param.envvar is not None
        assert param.envvar[0] == "SPIFFEBIND_" + spec.cli.removeprefix("--").upper().replace(
            "-", "_"
        )
