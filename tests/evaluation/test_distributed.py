"""The evaluation on tf.distribute across processes: two MultiWorkerMirroredStrategy workers on localhost
(configured by TF_CONFIG, as on several machines) store the same maps' metrics as one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from toy_models import tiny_cnn
from workers import free_ports

from drise_tf import evaluation

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIONS = dict(drise_options={"n_masks": 32, "grid_size": 2, "batch_size": 8}, similarities=["cosine", "probability"],
               methods={"RISE": ("rise", {}), "Saliency": ("saliency", {})}, noise_images=1, mprt_images=1,
               chunk_size=2, seed=3)

WORKER = textwrap.dedent("""
    import json, os, sys
    os.environ["TF_CONFIG"] = json.dumps({{"cluster": {{"worker": {workers!r}}},
                                          "task": {{"type": "worker", "index": int(sys.argv[1])}}}})
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first, before any other TensorFlow work
    import numpy as np
    sys.path.insert(0, {tests!r})
    from toy_models import tiny_cnn
    from drise_tf import evaluation
    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(4, 8, 8, 3)).astype(np.float32), rng.integers(0, 3, 4)
    evaluation.evaluate_maps(tiny_cnn(), images, labels, {folder!r}, strategy=strategy, progress=False, **{options!r})
    print("replicas", strategy.num_replicas_in_sync)
""")


@pytest.mark.distributed
def test_two_workers_store_the_same_results_as_one_process(tmp_path):
    workers = [f"localhost:{port}" for port in free_ports(2)]
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(workers=workers, tests=TESTS, folder=str(tmp_path / "two"), options=OPTIONS))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    processes = [subprocess.Popen([sys.executable, str(script), str(index)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for index in range(2)]
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=300)[0])
        finally:
            process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0 and "replicas 2" in output, output[-3000:]

    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(4, 8, 8, 3)).astype(np.float32), rng.integers(0, 3, 4)
    evaluation.evaluate_maps(tiny_cnn(), images, labels, tmp_path / "one", progress=False, **OPTIONS)
    settings_two, two = evaluation.read_records(tmp_path / "two")
    settings_one, one = evaluation.read_records(tmp_path / "one")
    assert settings_two == settings_one and len(two) == len(one)
    by_key = {(r["position"], r["variant"], r["seed"]): r for r in one}
    for record in two:
        other = by_key[(record["position"], record["variant"], record["seed"])]
        for metric, value in record.items():
            if isinstance(value, float):
                assert value == pytest.approx(other[metric], abs=1e-5), (metric, record, other)
    assert json.dumps(sorted(by_key)) == json.dumps(sorted((r["position"], r["variant"], r["seed"]) for r in two))
