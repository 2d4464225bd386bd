"""Declarative daemon options: each one is a settings field, declared once with :func:`option`.

A field of :class:`spiffebind.config.DaemonConfig` declared as ``name: T = option(default,
help=...)`` is at once

- the ``spiffebind run`` flag ``--name`` (underscores become dashes), shown in ``--help``;
- the environment variable ``SPIFFEBIND_NAME`` (click reads it: flag > env > file > default);
- the config-file key ``name`` (or ``name`` spelled with dashes);
- a row of the option table in docs/cli.md, and, when ``chart=`` gives its JSON schema, a key
  of the Helm chart's ``config`` values (``scripts/gen_options.py`` writes both; ``make lint``
  fails when they drift);
- one typed value, the field's type, parsed by ``parse`` from what click resolved.

Adding an option is adding one such field. ``flag=`` names it when the flag differs from the
field (``--issuer`` feeds ``issuers``); ``file_only=True`` is a structured value a command line
cannot carry; ``sighup=`` says what SIGHUP does with it (anything else needs a restart). Then
give the field a reader in the daemon: a test fails for a field that nothing reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from spiffebind.errors import ConfigError

ENV_PREFIX = "SPIFFEBIND_"

T = TypeVar("T")

Parse = Callable[[str, Any], Any]
"""Turns the value click resolved for an option (named first, for errors) into the field's."""


@dataclass(frozen=True)
class Option:
    """How one settings field is set from outside; its default and type are the field's.

    ``doc`` is the docs/cli.md text (``help``, for ``--help``, when empty); ``chart`` the
    JSON schema of its key in the Helm chart's ``config`` (None: the chart does not offer
    it); ``name`` is filled in by :func:`options_of` (``flag`` or the field's name).
    """

    help: str
    doc: str = ""
    metavar: str = ""
    click_type: Any = None
    parse: Parse | None = None
    flag: str = ""
    multiple: bool = False
    is_flag: bool = False
    env_fallbacks: tuple[str, ...] = ()
    file_only: bool = False
    sighup: str = ""
    chart: Mapping[str, Any] | None = None
    show_default: str = ""
    name: str = ""

    @property
    def cli(self) -> str:
        return f"--{self.name.replace('_', '-')}"

    @property
    def env(self) -> str:
        return f"{ENV_PREFIX}{self.name.upper()}"

    @property
    def where(self) -> str:
        """How errors name it: the flag, or the file key of a file-only option."""
        return self.name if self.file_only else self.cli


def option(default: Any = None, *, factory: Callable[[], Any] | None = None, **spec: Any) -> Any:
    """A settings field that is also a daemon option (see the module docstring)."""
    metadata = {"option": Option(**spec)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def options_of(settings: type[Any]) -> Iterator[tuple[dataclasses.Field[Any], Option]]:
    """Each option field of a settings dataclass with its option, named, in declared order."""
    for f in dataclasses.fields(settings):
        spec = f.metadata.get("option")
        if isinstance(spec, Option):
            yield f, dataclasses.replace(spec, name=spec.flag or f.name)


def default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def resolve(settings: type[T], values: Mapping[str, Any]) -> T:
    """Typed settings from resolved option values; an option left unset keeps its default."""
    given: dict[str, Any] = {}
    for f, spec in options_of(settings):
        raw = values.get(spec.name)
        if raw is None or raw == ():
            continue
        given[f.name] = spec.parse(spec.where, raw) if spec.parse else raw
    return settings(**given)


def file_keys(settings: type[Any]) -> set[str]:
    return {spec.name for _, spec in options_of(settings)}


def read_config_file(path: Path, allowed: Iterable[str]) -> dict[str, Any]:
    """The YAML mapping in ``path``, keys normalised to option names; unknown keys refused."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping")
    known = set(allowed)
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
        out[name] = value
    return out


def shown_default(f: dataclasses.Field[Any], spec: Option) -> str:
    if spec.show_default:
        return spec.show_default
    value = default_of(f)
    return "" if value in (None, False, (), {}) else str(value)


def markdown_table(settings: type[Any]) -> str:
    """The docs/cli.md option table: one row per option, in declared order."""
    rows = [
        "| option | environment | default | SIGHUP | what it does |",
        "|---|---|---|---|---|",
    ]
    for f, spec in options_of(settings):
        name = f"`{spec.name}` (file only)" if spec.file_only else f"`{spec.cli}"
        if not spec.file_only:
            name += f" {spec.metavar}`" if spec.metavar else "`"
        env = "" if spec.file_only else f"`{spec.env}`"
        if spec.env_fallbacks:
            env += ", then " + ", ".join(f"`{e}`" for e in spec.env_fallbacks)
        default = shown_default(f, spec)
        default = f"`{default}`" if default else ""
        rows.append(f"| {name} | {env} | {default} | {spec.sighup} | {spec.doc or spec.help} |")
    return "\n".join(rows) + "\n"


def chart_schema(settings: type[Any], description: str) -> dict[str, Any]:
    """The JSON schema of the Helm chart's ``config`` values: the options it lets users set."""
    return {
        "description": description,
        "type": "object",
        "additionalProperties": False,
        "properties": {
            spec.name: dict(spec.chart)
            for _, spec in options_of(settings)
            if spec.chart is not None
        },
    }
