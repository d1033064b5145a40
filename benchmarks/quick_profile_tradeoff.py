"""How wide and how long should the quick profile's ResNet-18 train? Throughput, then accuracy, on this CPU.

Part 1 (``--throughput``): training and inference images/s of simple_cnn and of ResNet-18 at several widths, in one
run (compare them as ratios; timings drift between runs).
Part 2 (``--train WIDTH:EPOCHS ...``): trains each configuration with the ``cpu_onecycle`` recipe on the development
subset (the quick profile's split) and reports wall time and test accuracy.

    python benchmarks/quick_profile_tradeoff.py --throughput
    python benchmarks/quick_profile_tradeoff.py --train 16:6 16:10 24:6 --data ../shared/data/cifar10-subset.npz
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import tempfile
import time

import numpy as np

from drise_tf import resnet18, simple_cnn, train_run
from drise_tf.core.compat import keras


def _throughput(model: keras.Model, batch: int, steps: int, train: bool) -> float:
    x = np.random.default_rng(0).normal(size=(batch, 32, 32, 3)).astype(np.float32)
    y = keras.utils.to_categorical(np.arange(batch) % 10, 10)
    if train:
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy")
        model.train_on_batch(x, y)  # compile
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
    else:
        model.predict_on_batch(x)
        start = time.perf_counter()
        for _ in range(steps):
            model.predict_on_batch(x)
    return batch * steps / (time.perf_counter() - start)


def throughput(widths: list[int]) -> list[dict]:
    """Training (batch 128) and inference (batch 100, D-RISE's) images/s per model."""
    rows = []
    models = {"simple_cnn": simple_cnn}
    models.update({f"resnet18 width {w}": (lambda w=w: resnet18(width=w)) for w in widths})
    for name, build in models.items():
        model = build()
        rows.append({"model": name, "params": model.count_params(),
                     "train_img_s": round(_throughput(model, 128, 8, True), 1),
                     "infer_img_s": round(_throughput(build(), 100, 20, False), 1)})
        print(rows[-1], flush=True)
    return rows


def train_configurations(configurations: list[str], data: str, n_train: int, n_val: int) -> list[dict]:
    """Train each ``WIDTH:EPOCHS`` with cpu_onecycle; wall time and test accuracy."""
    rows = []
    for configuration in configurations:
        width, epochs = (int(part) for part in configuration.split(":"))
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            result = train_run(pathlib.Path(folder) / "run", recipe="cpu_onecycle", architecture="resnet18",
                               width=width, data=data, n_train=n_train, n_val=n_val, epochs=epochs, seed=0,
                               epoch0_train="originals", evaluate_train=False, verbose=0)
            seconds = time.perf_counter() - start
        rows.append({"width": width, "epochs": epochs, "seconds": round(seconds, 1),
                     "test_accuracy": round(result["evaluation"]["accuracy"], 4),
                     "val_accuracy": round(result["history"]["val_accuracy"][-1], 4)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 24, 32, 64])
    parser.add_argument("--train", nargs="*", default=[], metavar="WIDTH:EPOCHS")
    parser.add_argument("--data", default=os.environ.get("DRISE_TF_DATA"))
    parser.add_argument("--n-train", type=int, default=18000)
    parser.add_argument("--n-val", type=int, default=2000)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    rows = throughput(args.widths) if args.throughput else []
    rows += train_configurations(args.train, args.data, args.n_train, args.n_val)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
