"""Tests of drise_tf.core.registry."""
from __future__ import annotations

import pytest

from drise_tf.core.registry import Registry


def test_registry_register_get_available():
    registry = Registry("widget")

    @registry.register("b")
    def b():
        return 2

    registry.register("a", lambda: 1)
    assert registry.available() == ["a", "b"]
    assert registry.get("b") is b
    assert "a" in registry and "c" not in registry


def test_registry_errors_name_the_problem():
    registry = Registry("widget")
    registry.register("a", 1)
    with pytest.raises(ValueError, match="unknown widget 'zzz'; known: a"):
        registry.get("zzz")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", 2)
    registry.register("a", 3, overwrite=True)
    assert registry.get("a") == 3
    with pytest.raises(ValueError, match="non-empty string"):
        registry.register("", 1)
