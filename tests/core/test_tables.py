"""Tests of drise_tf.core.tables."""
from __future__ import annotations

import pytest

from drise_tf.core import tables


def test_tables_csv_and_text(tmp_path):
    rows = [{"name": "a", "value": 0.5, "n": 3}, {"name": "bb", "value": 0.25, "n": 10}]
    assert tables.to_csv(rows) == "name,value,n\na,0.5,3\nbb,0.25,10\n"
    assert tables.to_csv(rows, ["n"]) == "n\n3\n10\n"
    path = tables.write_csv(rows, tmp_path / "sub" / "t.csv")
    assert open(path).read() == tables.to_csv(rows)
    text = tables.format_table(rows).splitlines()
    assert text[0].split() == ["name", "value", "n"] and text[2].split() == ["bb", "0.2500", "10"]
    with pytest.raises(ValueError, match="rows is empty"):
        tables.to_csv([])
