"""Training across processes: two MultiWorkerMirroredStrategy workers on localhost (configured by TF_CONFIG, as on
several machines) train an epoch of a tiny model to the same loss and weights as one process."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from workers import free_ports

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import json, os, sys
    if sys.argv[1] != "one":
        os.environ["TF_CONFIG"] = json.dumps({{"cluster": {{"worker": {workers!r}}},
                                              "task": {{"type": "worker", "index": int(sys.argv[1])}}}})
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy() if sys.argv[1] != "one" else None
    import numpy as np
    sys.path.insert(0, {tests!r})
    from toy_models import tiny_cnn
    from drise_tf.training import loop
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 10, size=64)
    model = tiny_cnn(seed=2, classes=10)
    history = loop.train(model, (x[:48], y[:48]), (x[48:], y[48:]), out_dir=sys.argv[2], recipe="thesis", epochs=1,
                         batch_size=16, augmentation="random", verbose=0, strategy=strategy)
    np.savez(sys.argv[2] + ".npz", loss=history["loss"], val_loss=history["val_loss"], *model.get_weights())
""")


# Keras 3 only: Keras 2's fit iterates an epoch's dataset twice (a peek, then the epoch), and make_train_dataset
# draws a new epoch key at each iteration, so a one-process Keras 2 epoch trains on the next key's order than the
# distributed step does (both seeded and reproducible; measured: the step after one discarded iteration gives Keras
# 2's loss exactly). On Keras 2 the two workers still agree with each other (the same step everywhere).
@pytest.mark.distributed
@pytest.mark.keras3_only
def test_two_workers_train_an_epoch_like_one_process(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(workers=[f"localhost:{p}" for p in free_ports(2)], tests=TESTS))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {name: tmp_path / name for name in ("one", "0", "1")}
    processes = {name: subprocess.Popen([sys.executable, str(script), name, str(folder)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for name, folder in runs.items()}
    for name, process in processes.items():
        try:
            output = process.communicate(timeout=300)[0]
        finally:
            process.kill()
        assert process.returncode == 0, output[-3000:]
    one, chief, other = (np.load(str(runs[name]) + ".npz") for name in ("one", "0", "1"))
    np.testing.assert_allclose(chief["loss"], one["loss"], rtol=1e-5)  # epoch 0 and epoch 1
    np.testing.assert_allclose(chief["val_loss"], one["val_loss"], rtol=1e-5)
    for key in one.files:
        if key.startswith("arr_"):
            np.testing.assert_allclose(chief[key], one[key], atol=1e-5)
            np.testing.assert_array_equal(chief[key], other[key])  # the workers hold one model
    assert (runs["0"] / "history.csv").is_file() and not (runs["1"] / "history.csv").exists()  # only the chief writes
