"""Search spaces: ranges and choices of hyper-parameters for `genlab sweep`.

A space maps option names to `Float(low, high, log=)`, `Int(low, high,
log=)` or `Choice(*values)`. Each family declares a default space beside its
config (``models/<family>/space.py``, ``SEARCH_SPACE``); a YAML file can
override it, naming only existing options:

    lr_g: {low: 1e-5, high: 1e-3, log: true}    # a range (int or float, from the option's type)
    loss: [nonsaturating, hinge]                # choices
    g_width: {choices: [32, 64]}                # choices, long form
    ema: 0.999                                  # a fixed value for every trial
    r1_gamma: null                              # not searched: the family default

Every bound and choice is checked against the option's type, range and the
config's own validation before any trial runs; a problem is one
`ConfigError` line.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, Union

from .config import _check_range, _coerce, _type_name, build
from .errors import ConfigError


@dataclass(frozen=True)
class _Range:
    low: Any
    high: Any
    log: bool = False

    def values(self) -> list[Any]:
        return [self.low, self.high]


class Float(_Range):
    """Floats from low to high (log: uniform in log space)."""


class Int(_Range):
    """Integers from low to high, both included (log: uniform in log space)."""


@dataclass(frozen=True)
class Choice:
    choices: tuple

    def __init__(self, *choices: Any):
        object.__setattr__(self, "choices", tuple(choices))

    def values(self) -> list[Any]:
        return list(self.choices)


Dist = Union[Float, Int, Choice]
#: sentinel: a YAML ``null`` drops the option from the search
DROP = object()


def describe(dist: Dist) -> str:
    if isinstance(dist, Choice):
        return "{" + ", ".join(map(str, dist.choices)) + "}"
    return f"[{dist.low:g}, {dist.high:g}]" + (" log" if dist.log else "")


def to_json(dist: Dist) -> dict[str, Any]:
    if isinstance(dist, Choice):
        return {"type": "choice", "choices": list(dist.choices)}
    return {"type": "float" if isinstance(dist, Float) else "int", "low": dist.low, "high": dist.high,
            "log": dist.log}


def from_json(data: dict[str, Any]) -> Dist:
    if data["type"] == "choice":
        return Choice(*data["choices"])
    cls = Float if data["type"] == "float" else Int
    return cls(data["low"], data["high"], bool(data.get("log", False)))


def _base_type(tp: Any) -> Any:
    """int/float for numeric options (Optional stripped), else the annotation itself."""
    if typing.get_origin(tp) is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _as_choice(value: Any) -> Any:
    """A choice as Optuna stores it: lists (list-valued options) become "a,b,c" strings."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return value


def parse_entry(key: str, value: Any, tp: Any, field: dataclasses.Field, source: str) -> Any:
    """One YAML entry -> a `Dist`, a fixed value, or `DROP`."""
    where = f"{key!r} in {source}"
    if value is None:
        return DROP
    if isinstance(value, dict):
        extra = set(value) - {"low", "high", "log", "choices"}
        if extra:
            raise ConfigError(f"unknown field {sorted(extra)[0]!r} for {where}; a range is {{low, high, log}}, "
                              f"choices are a list or {{choices: [...]}}")
        if "choices" in value:
            if set(value) != {"choices"} or not isinstance(value["choices"], list):
                raise ConfigError(f"{where}: give choices as {{choices: [a, b, ...]}} alone")
            value = value["choices"]
        else:
            return _parse_range(key, value, tp, field, where)
    list_option = typing.get_origin(_base_type(tp)) in (list, tuple)
    # a list is a set of choices; for a list-valued option (layer sizes) choices are a list of lists
    if isinstance(value, list) and (not list_option or (value and all(isinstance(v, list) for v in value))):
        if not value:
            raise ConfigError(f"empty list of choices for {where}; give at least one value")
        coerced = []
        for v in value:
            c = _coerce(v, tp, key)
            _check_range(c, field, key)
            coerced.append(_as_choice(c))
        return Choice(*dict.fromkeys(coerced))
    fixed = _coerce(value, tp, key)
    _check_range(fixed, field, key)
    return fixed


def _parse_range(key: str, value: dict, tp: Any, field: dataclasses.Field, where: str) -> Dist:
    base = _base_type(tp)
    if base not in (int, float):
        raise ConfigError(f"{where}: a range needs a numeric option, but {key!r} is {_type_name(tp)}; "
                          f"give a list of choices instead")
    if "low" not in value or "high" not in value:
        raise ConfigError(f"{where}: a range needs both low and high, e.g. {{low: 1e-4, high: 1e-3}}")
    low, high = _coerce(value["low"], base, key), _coerce(value["high"], base, key)
    for v in (low, high):
        _check_range(v, field, key)
    log = value.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false (got {log!r})")
    if not low < high:
        raise ConfigError(f"empty range [{low}, {high}] for {where}: low must be below high "
                          f"(to fix a value, give it alone, e.g. {key}: {low})")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0 (got {low})")
    if isinstance(low, float) and (math.isinf(low) or math.isinf(high)):
        raise ConfigError(f"{where}: bounds must be finite")
    return (Int if base is int else Float)(low, high, log)


def parse_space(mapping: Any, classes: dict[str, type], source: str, blocked: dict[str, str] | None = None,
                ) -> tuple[dict[str, Dist], dict[str, Any], set[str]]:
    """(ranges and choices, fixed values, dropped keys) from a YAML mapping.

    `classes` maps a description ("dcgan", "trainer") to its config dataclass;
    `blocked` maps options that exist but cannot be searched to the reason why.
    """
    blocked = blocked or {}
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source} must hold a mapping of option: range/choices")
    fields = {}
    for cls in classes.values():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            fields.setdefault(f.name, (hints[f.name], f))
    space, fixed, dropped = {}, {}, set()
    for raw_key, value in mapping.items():
        key = str(raw_key).replace("-", "_")
        if key not in fields:
            names = ", ".join(sorted(k for k in fields if k not in blocked))
            raise ConfigError(f"unknown option {key!r} in {source}; searchable options: {names}")
        if key in blocked:
            raise ConfigError(f"{key!r} in {source} cannot be searched: {blocked[key]}")
        tp, field = fields[key]
        entry = parse_entry(key, value, tp, field, source)
        if entry is DROP:
            dropped.add(key)
        elif isinstance(entry, (Float, Int, Choice)):
            space[key] = entry
        else:
            fixed[key] = entry
    return space, fixed, dropped


def check_space(space: dict[str, Dist], cls: type, base: dict[str, Any], what: str) -> None:
    """Every bound and choice of the options of `cls` in `space` must build a valid config
    together with the fixed values `base` (the config's own validate() included)."""
    names = set(f.name for f in dataclasses.fields(cls))
    for key, dist in space.items():
        if key not in names:
            continue
        for value in dist.values():
            try:
                build(cls, {**base, key: value}, what=what)
            except ConfigError as exc:
                raise ConfigError(f"search space {key} {describe(dist)}: {exc}") from None
