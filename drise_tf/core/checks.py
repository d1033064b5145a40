"""Argument checks shared across rooms: each raises a ValueError that names the argument and what is wrong."""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1; ValueError naming ``name`` otherwise (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def one_of(value: Any, name: str, choices: Tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``; ValueError naming ``name`` and the choices otherwise."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
