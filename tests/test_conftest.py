"""Tests of the real-data gate in tests/conftest.py: a missing subset skips locally and fails under CI."""
from __future__ import annotations

import pytest
from conftest import ci_enabled, require_subset


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1", " true\n"])
def test_ci_enabled_for_true_and_1(value):
    assert ci_enabled({"CI": value})


@pytest.mark.parametrize("environ", [{}, {"CI": ""}, {"CI": "false"}, {"CI": "0"}, {"CI": "yes"}, {"OTHER": "true"}])
def test_ci_disabled_otherwise(environ):
    assert not ci_enabled(environ)


def test_present_file_is_returned_with_or_without_ci(tmp_path):
    path = tmp_path / "cifar10-subset.npz"
    path.write_bytes(b"")
    assert require_subset(path, {}) == path
    assert require_subset(path, {"CI": "true"}) == path


def test_missing_file_skips_outside_ci(tmp_path):
    missing = tmp_path / "nowhere" / "cifar10-subset.npz"
    with pytest.raises(pytest.skip.Exception, match="not found"):
        require_subset(missing, {"CI": "false"})


@pytest.mark.parametrize("value", ["true", "1"])
def test_missing_file_fails_under_ci_naming_the_file(tmp_path, value):
    missing = tmp_path / "nowhere" / "cifar10-subset.npz"
    with pytest.raises(pytest.fail.Exception) as caught:
        require_subset(missing, {"CI": value})
    assert str(missing) in str(caught.value)
    assert "CI" in str(caught.value)
