"""`--set KEY=VALUE` options of the benchmark scripts, typed: numbers, booleans, JSON lists, else text."""

from __future__ import annotations

import json


def parse_value(text: str):
    """'3' -> 3, '4e-4' -> 0.0004, 'true'/'False' -> bool, '[1, 2]' -> list; anything else stays text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return float(text)
    except ValueError:
        return {"true": True, "false": False}.get(text.lower(), text)


def set_options(items: list[str]) -> dict:
    """['n_down=2', 'upsample=resize'] -> {'n_down': 2, 'upsample': 'resize'} (dashes in keys become underscores)."""
    pairs = (item.split("=", 1) for item in items)
    return {key.replace("-", "_"): parse_value(value) for key, value in pairs}
