"""Write the parameters table of helm/spiffebind/README.md from the chart's own annotations.

Each row comes from one ``## @param KEY [MODIFIER] DESCRIPTION`` line of values.yaml (the
description; ``## @section`` lines start a new table), the value itself (the default), and
values.schema.json (the type). ``python scripts/chart_readme.py`` rewrites the table between
the README's markers; ``--check`` only reports whether it is stale (exit 1), as the chart
tests do.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "spiffebind"
README = CHART / "README.md"
START, END = "<!-- parameters:start -->", "<!-- parameters:end -->"
_ANNOTATION = re.compile(r"^\s*## @(section|param) (.+)$")
_PARAM = re.compile(r"(?P<key>\S+)(?: \[(?P<modifier>\w+)\])? (?P<text>.+)")


def _lookup(values: Any, key: str) -> Any:
    for part in key.split("."):
        values = values[part]
    return values


def _schema_at(schema: dict[str, Any], key: str) -> dict[str, Any]:
    """The schema of one dotted key, with ``$ref``s into ``definitions`` followed."""
    definitions = schema.get("definitions", {})
    node = schema
    for part in key.split("."):
        node = node.get("properties", {}).get(part, {})
        while "$ref" in node:
            node = definitions[node["$ref"].rpartition("/")[2]]
    return node


def _type(node: dict[str, Any]) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "object")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _default(value: Any, modifier: str | None) -> str:
    if modifier == "object" and value:
        return "see values.yaml"
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(values_text: str, schema: dict[str, Any]) -> str:
    """The Markdown tables, one per ``@section``, in values.yaml's order."""
    values = yaml.safe_load(values_text)
    out: list[str] = []
    for line in values_text.splitlines():
        match = _ANNOTATION.match(line)
        if match is None:
            continue
        kind, rest = match.groups()
        if kind == "section":
            out += [
                "",
                f"### {rest}",
                "",
                "| key | type | default | description |",
                "|---|---|---|---|",
            ]
            continue
        param = _PARAM.fullmatch(rest)
        if param is None:
            raise ValueError(f"malformed annotation: {line.strip()}")
        key, modifier = param["key"], param["modifier"]
        row = (
            f"`{key}`",
            _type(_schema_at(schema, key)),
            _default(_lookup(values, key), modifier),
            _cell(param["text"]),
        )
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out).strip() + "\n"


def render(readme: str) -> str:
    """``readme`` with the text between the markers replaced by the current tables."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    schema = json.loads((CHART / "values.schema.json").read_text())
    body = table((CHART / "values.yaml").read_text(), schema)
    return f"{head}{START}\n{body}{END}{tail}"


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print(f"{README} is stale: run python scripts/chart_readme.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
