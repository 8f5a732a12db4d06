"""Typed configurations: dataclasses with validation, files and CLI overrides.

Every family declares a dataclass of hyper-parameters whose defaults train
well. Values come, in increasing priority, from those defaults, a YAML/JSON
file (flat ``key: value`` pairs, or a run's own config.json) and command-line
flags. An unknown key or a bad value raises a
`ConfigError` whose one line lists what is valid.
"""

from __future__ import annotations

import dataclasses
import json
import math
import reprlib
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from .errors import ConfigError


def option(default: Any, *, help: str = "", min: float | None = None, max: float | None = None,
           choices: typing.Sequence[Any] | None = None) -> Any:
    """A dataclass field with a help text and optional range or choices."""
    meta = {"help": help, "min": min, "max": max, "choices": tuple(choices) if choices else None}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(map(str, get_args(tp)))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return f"list of {_type_name(args[0])}" if args else "list"
    return getattr(tp, "__name__", str(tp))


def short_repr(value: Any, limit: int = 80) -> str:
    """A repr for a one-line message, bounded however large `value` is."""
    r = reprlib.Repr()
    r.maxstring, r.maxother, r.maxlist, r.maxdict, r.maxlevel = limit, limit, 6, 6, 3
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Bad:
    """Raises the bad-value error, building its message only when it is raised."""

    def __init__(self, value: Any, tp: Any, key: str):
        self.value, self.tp, self.key = value, tp, key

    def __call__(self) -> ConfigError:
        return ConfigError(f"bad value {short_repr(self.value)} for {self.key!r}: expected {_type_name(self.tp)}")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert `value` (possibly a CLI string) to the annotated type `tp`."""
    origin = get_origin(tp)
    bad = _Bad(value, tp, key)
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", "null", ""))):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise bad()
    if origin is Literal:
        choices = get_args(tp)
        for c in choices:
            if value == c or (isinstance(value, str) and str(c) == value):
                return c
        raise bad()
    if origin in (list, tuple):
        (inner, *_) = [a for a in get_args(tp) if a is not Ellipsis] or [Any]
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise bad()
        items = [_coerce(v, inner, key) for v in value]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise bad()
    if tp is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())  # exact, however large (range checks follow)
            except ValueError:
                pass
            try:
                f = float(value)
            except ValueError:
                raise bad() from None
            if f.is_integer():
                return int(f)
        raise bad()
    if tp is float:
        if isinstance(value, bool):
            raise bad()
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise bad() from None
        if math.isnan(f):
            raise bad()
        return f
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad()
    return value


def _check_range(value: Any, f: dataclasses.Field, key: str) -> None:
    meta = f.metadata
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"bad value {short_repr(value)} for {key!r}: valid values are "
                          f"{', '.join(map(str, meta['choices']))}")
    lo, hi = meta.get("min"), meta.get("max")
    vals = value if isinstance(value, (list, tuple)) else [value]
    for v in vals:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if (lo is not None and v < lo) or (hi is not None and v > hi) or (isinstance(v, float) and math.isinf(v)):
                rng = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
                raise ConfigError(f"bad value {short_repr(v)} for {key!r}: must be in {rng}")


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def build(cls: type, values: dict[str, Any] | None = None, *, what: str = "config") -> Any:
    """Build dataclass `cls` from `values`, validating keys, types and ranges."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise ConfigError(
            f"unknown {what} key {unknown[0]!r}; valid keys: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        coerced = _coerce(value, hints[key], key)
        _check_range(coerced, fields[key], key)
        kwargs[key] = coerced
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


#: a configuration file is a page of key: value lines; anything larger is refused unread
MAX_CONFIG_BYTES = 1 << 20


def _yaml_loader():
    """PyYAML's safe loader without aliases: ``*name`` references let a few hundred
    bytes expand into billions of values (a "billion laughs" bomb), and a config has
    no need for them."""
    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # type: ignore[override]
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                mark = event.start_mark
                raise yaml.YAMLError(f"line {mark.line + 1}: aliases (*{event.anchor}) are not allowed; "
                                     f"write the values out")
            return super().compose_node(parent, index)

    return NoAliasLoader


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON configuration file into a dict (UTF-8, at most 1 MiB, no YAML aliases)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found; pass an existing .yaml or .json file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {str(path)!r} is {path.stat().st_size / 2**20:.1f} MiB; a config is a few "
                          f"key: value lines (at most 1 MiB)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8") \
            from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_yaml_loader())  # noqa: S506
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"config file {str(path)!r} is not valid {path.suffix[1:] or 'YAML'}: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of key: value pairs")
    return flatten_run_config({str(k).replace("-", "_"): v for k, v in data.items()})


#: the sections of a run's config.json (and of `genlab train --print-config`) that hold settings
RUN_SECTIONS = ("config", "train")


def flatten_run_config(data: dict[str, Any]) -> dict[str, Any]:
    """Flat options from a file: a run's config.json (``family``, ``config``: the family's
    hyper-parameters, ``train``: the trainer's settings, plus the data description and
    version, which are recorded, not set) becomes ``{family, **config, **train}``;
    a flat mapping is returned as it is."""
    if not all(isinstance(data.get(k), dict) for k in RUN_SECTIONS):
        return data
    flat: dict[str, Any] = {"family": data["family"]} if "family" in data else {}
    for section in RUN_SECTIONS:
        flat.update({str(k).replace("-", "_"): v for k, v in data[section].items()})
    return flat


def parse_flags(args: list[str]) -> dict[str, Any]:
    """Turn ``["--lr", "1e-4", "--spectral-norm", "--no-ema"]`` into a dict.

    A flag followed by another flag (or nothing) is a boolean true; ``--no-X``
    is ``X = false``; ``--key=value`` is accepted too.
    """
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument {arg!r}; options are given as --key value")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if eq:
            out[key] = value
            i += 1
        elif i + 1 < len(args) and not (args[i + 1].startswith("--")):
            out[key] = args[i + 1]
            i += 2
        elif key.startswith("no_"):
            out[key[3:]] = False
            i += 1
        else:
            out[key] = True
            i += 1
    return out


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, help) for each field, for `--help` texts."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        rows.append((f.name, _type_name(hints[f.name]), default, f.metadata.get("help", "")))
    return rows
