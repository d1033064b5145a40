"""The results store: gzip-compressed chunks, the same bytes for the same records, plain chunks of older runs read."""
from __future__ import annotations

import gzip
import json

import pytest

from drise_tf.evaluation.store import ResultStore, finished_chunks, read_records


def _records(start: int, n: int):
    return [{"id": start + k, "variant": "a", "seed": 0, "road_gap": 0.1 * k} for k in range(n)]


def test_chunks_are_compressed_deterministic_and_read_back_in_order(tmp_path):
    store = ResultStore(tmp_path / "run", {"seed": 0})
    store.write(3, _records(3, 3))
    path = store.write(0, _records(0, 3))
    assert path.endswith("chunk-000000.json.gz")
    assert json.loads(gzip.decompress(open(path, "rb").read()))["records"] == _records(0, 3)
    again = ResultStore(tmp_path / "again", {"seed": 0}).write(0, _records(0, 3))
    assert open(path, "rb").read() == open(again, "rb").read()  # no time stamp in the gzip header
    settings, records = read_records(tmp_path / "run")
    assert settings == {"seed": 0} and records == _records(0, 3) + _records(3, 3)


def test_plain_json_chunks_of_older_runs_are_read_and_resumed(tmp_path):
    folder = tmp_path / "run"
    ResultStore(folder, {"seed": 0})
    (folder / "chunks").mkdir()
    (folder / "chunks" / "chunk-000000.json").write_text(json.dumps({"start": 0, "records": _records(0, 2)}))
    (folder / "chunks" / ".tmp-x").write_text("{half")  # what a kill mid-write leaves: not a chunk
    resumed = ResultStore(folder, {"seed": 0}, resume=True)
    resumed.write(2, _records(2, 2))
    assert finished_chunks(folder) == [0, 2]
    assert read_records(folder)[1] == _records(0, 2) + _records(2, 2)
    with pytest.raises(ValueError, match="already holds results"):
        ResultStore(folder, {"seed": 0})
