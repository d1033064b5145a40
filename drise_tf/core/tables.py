"""Tables as lists of row dicts: CSV text, atomic CSV files, aligned plain text for printing."""
from __future__ import annotations

import csv
import io
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

from drise_tf.core.compat import write_text_atomic


def _columns(rows: Sequence[Dict[str, Any]], columns: Optional[Sequence[str]]) -> List[str]:
    if columns is not None:
        return list(columns)
    if not rows:
        raise ValueError("rows is empty and no columns were given")
    return list(rows[0])


def to_csv(rows: Sequence[Dict[str, Any]], columns: Optional[Sequence[str]] = None) -> str:
    """``rows`` as CSV text with a header (``columns``, default: the keys of the first row)."""
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=_columns(rows, columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return stream.getvalue()


def write_csv(rows: Sequence[Dict[str, Any]], path: str | os.PathLike, columns: Optional[Sequence[str]] = None) -> str:
    """Write :func:`to_csv` to ``path`` atomically (parent folders created); returns the path."""
    return write_text_atomic(path, to_csv(rows, columns))


def format_table(rows: Sequence[Dict[str, Any]], columns: Optional[Sequence[str]] = None) -> str:
    """``rows`` as an aligned plain-text table (floats with 4 decimals), for printing."""
    columns = _columns(rows, columns)
    cells = [[f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as a markdown table of ``columns`` (floats with 3 decimals, NaN and missing cells empty)."""
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(column, "")) for column in columns) + " |" for row in rows]
    return "\n".join(lines)
