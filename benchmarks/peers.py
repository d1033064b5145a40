"""Against the black-box peers: D-RISE beside xplique's RISE, Sobol and HSIC attribution, at equal model calls (run
by hand; the peers are an optional install, docs/usage.md).

    pip install --no-deps -r requirements-peers.txt
    python benchmarks/peers.py --data ../shared/data/cifar10-subset.npz      # from the repository root; --resume
    python benchmarks/peers.py --models models/keras_cnn --images 5 --out /tmp/peers   # a trial

Declared here before any run (December 2026), and not changed after looking at results:

* **Methods** (:data:`METHODS`), each as its authors and docs intend: xplique 2.0's ``Rise`` (7x7 bilinear masks,
  p 0.5, zero fill, Petsiuk et al. 2018), ``SobolAttributionMethod`` on 8x8 and 11x11 grids (the QMC sampler
  ``TFSobolSequenceRS``, Jansen's estimator, ``"inpainting"``: Fel et al. 2021) and ``HsicAttributionMethod`` on an
  8x8 grid (its default sampler, the binary QMC ``TFSobolSequence``, where the paper samples Latin hypercubes, and
  ``BinaryEstimator``, ``"inpainting"``: Novello et al. 2022); beside them drise_tf's RISE preset (``DRise.rise``),
  the thesis's D-RISE (``DRise.thesis``) and the recommended D-RISE (``DRise.recommended``, the design sweep's
  choice: :data:`RECOMMENDED`), each run as the evaluation runs them: its masks in antithetic pairs (``DRISE_OPTIONS``;
  xplique's RISE draws its own, i.i.d.).
* **Budgets** (:data:`BUDGETS`): about 750, 2,000 and 4,000 model calls per map. RISE and D-RISE run at every
  budget (``nb_samples`` / ``n_masks`` calls); Sobol and HSIC run only where their authors' settings put them
  (revised on 2026-12-07, before any run, to the issue's "as its docs and paper intend"): Sobol with 32 designs,
  ``nb_design * (grid**2 + 2)`` calls, 2,112 on the 8x8 grid (budget 2,000) and 3,936 on the 11x11 grid (budget
  4,000); HSIC with the paper's 750 designs (budget 750) and 1,500 (budget 2,000). Every row records the exact calls
  it makes (``calls``), which tests/benchmarks/test_peers.py counts on a model.
* **Scope**: :data:`IMAGES` test images (a seeded choice, the one ``evaluate-maps`` makes with seed 0) on
  :data:`MODELS`; every method explains the same images for their TRUE class and every map is measured with the
  same metric seeds.
* **Measured** per method and budget: ROAD gap (primary), MuFidelity, deletion and insertion AUC, exactly as the
  evaluation measures them (``Evaluation.measure``, ``METRIC_SETTINGS``), ranked per network and budget by the
  evaluation's report (paired Wilcoxon, Holm, letters, Monte Carlo noise: ``write_report``). Methods with a random
  step explain the first :data:`NOISE_IMAGES` images again with another seed: their noise, and their measured two-seed
  Spearman. Sobol and HSIC sample deterministic QMC designs: their maps do not change with a seed, their noise is 0
  and their two-seed Spearman 1 (the table says "deterministic"). Seconds per map (the median over chunks, so that
  compiling is left out) and their ratio to a pure compiled forward pass over as many inputs, timed after each
  chunk on the same CPU.

Every explainer and metric forwards through the same copy of the model (BatchNormalization folded into its
convolutions, float32; softmax within 1e-6 of the model's), so that time differences are the methods' own. xplique
takes inputs in the model's input space (standardised images, so its zero-filled "inpainting" is the mean pixel, as
D-RISE's masks are), targets as one-hot vectors (B, classes) and explains ``f(x) . target``, the class probability
(the model ends in a softmax), as its own tests and examples call it; xplique 2.0.2 returns maps (B, H, W, 1) from
all three (:func:`as_maps` drops the channel axis). D-RISE takes class indices and returns (B, H, W).

xplique's RISE draws its masks from TensorFlow's global generator inside a compiled function, which
``tf.random.set_seed`` does not rewind once that function is traced: the run seeds it once per process, so a resumed
run draws other (equally random) masks for the chunks after the resume. D-RISE's masks come from its own seed and are
the same for every chunk.

How long: a 5-image trial of both networks (every image with both seeds) took 10.7 minutes on a 2-core AMD EPYC with
AVX512-BF16 shared with another run (strong at 4,000 calls: about 5.5 s per map for RISE and D-RISE, 6.8 s for
xplique's RISE, 7.4 s for Sobol; HSIC's 1,500 designs 9.4 s at 2,000 calls). The declared run: keras_cnn about 40
minutes, strong about 3.5 hours of an idle machine of that kind, so strong runs over more than one session
(``--resume``; commit the chunks).

Results (resumable, chunk by chunk, each file atomic) go to ``<out>/<network>/calls-<budget>/`` with the evaluation's
report; the answer, a table (``peers.md``, ``peers.csv``) and one figure (``road_gap_calls.png``, ROAD gap against
model calls, one line per method), to ``<out>``.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import pathlib
import sys
import time
import types
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def percentile(x: Any, q: float, interpolation: str = "linear") -> tf.Tensor:
    """``tfp.stats.percentile(x, q, interpolation="linear")`` over all of ``x``: the ``q``-th percentile, linearly
    interpolated between the closest ranks (``numpy.percentile``'s default), in ``x``'s dtype."""
    if interpolation != "linear":
        raise NotImplementedError(f"only linear interpolation is provided, got {interpolation!r}")
    values = tf.sort(tf.reshape(tf.convert_to_tensor(x), [-1]))
    position = q / 100.0 * tf.cast(tf.size(values) - 1, tf.float64)
    below = tf.cast(tf.floor(position), tf.int32)
    above = tf.minimum(below + 1, tf.size(values) - 1)
    weight = tf.cast(position - tf.floor(position), values.dtype)
    return tf.gather(values, below) * (1 - weight) + tf.gather(values, above) * weight


def _tensorflow_probability() -> str:
    """Let xplique import: its HSIC calls TensorFlow Probability once, ``tfp.stats.percentile(Y, 50.0,
    interpolation="linear")`` (the median heuristic for the width of its output kernel), and TFP 0.25 will not load
    under Keras 3 without tf-keras, a second Keras this project never installs. Where TFP does not load, xplique gets
    a stand-in module holding only :func:`percentile`. Returns which one xplique uses."""
    try:
        import tensorflow_probability
    except ImportError:
        stand_in = types.ModuleType("tensorflow_probability", "benchmarks/peers.py: stats.percentile only")
        stand_in.stats = types.SimpleNamespace(percentile=percentile)
        sys.modules["tensorflow_probability"] = stand_in
        return "stand-in percentile (benchmarks/peers.py)"
    return f"tensorflow_probability {tensorflow_probability.__version__}"


PERCENTILE = _tensorflow_probability()

import xplique  # noqa: E402
from xplique.attributions import HsicAttributionMethod, Rise, SobolAttributionMethod  # noqa: E402
from xplique.attributions.global_sensitivity_analysis import (  # noqa: E402
    BinaryEstimator,
    JansenEstimator,
    TFSobolSequence,
    TFSobolSequenceRS,
)

from drise_tf import load_cifar10, load_run  # noqa: E402
from drise_tf.core import tables  # noqa: E402
from drise_tf.core.compat import write_text_atomic  # noqa: E402
from drise_tf.core.console import cpu_description  # noqa: E402
from drise_tf.evaluation.report import metric_values, write_report  # noqa: E402
from drise_tf.evaluation.run import (  # noqa: E402
    DRISE_OPTIONS,
    METRIC_SETTINGS,
    METRICS,
    PRIMARY_METRIC,
    Evaluation,
    _records,
    model_fingerprint,
)
from drise_tf.evaluation.store import ResultStore, read_records  # noqa: E402
from drise_tf.evaluation.trained_run import chosen_test_images  # noqa: E402
from drise_tf.explain.drise import DRise  # noqa: E402
from drise_tf.metrics import rank_correlation  # noqa: E402
from drise_tf.plotting.figures import calls_figure, save  # noqa: E402

# ------------------------------------------------------------------------------------- declared before any run
MODELS = ("models/strong", "models/keras_cnn")
IMAGES = 300
SEED = 0
#: The first images explained again with seed ``SEED + 1`` by the methods with a random step.
NOISE_IMAGES = 100
CHUNK_SIZE = 25
#: Model calls per map, about.
BUDGETS = (750, 2000, 4000)
#: Inputs per forward pass, for every method (xplique's ``batch_size``, D-RISE's) and the pure forward pass.
FORWARD_BATCH = 256
#: Inputs of the pure forward pass timed after each chunk.
FORWARD_INPUTS = 2048
#: Sobol's designs, the paper's and xplique's (Fel et al. 2021): 32 x (8^2 + 2) = 2,112 calls on the 8x8 grid (the
#: 2,000 budget), 32 x (11^2 + 2) = 3,936 on the 11x11 grid (the 4,000 budget).
SOBOL_DESIGNS = 32
#: HSIC's designs, the paper's (Novello et al. 2022): 750 (its budget setting) and at most 1,500 (its main one, at the
#: 2,000 budget); its estimator's kernels grow with the square of the designs, so it is not run beyond the paper's.
HSIC_MOST_DESIGNS = 1500
#: Mask dimensions per HSIC estimator batch: bounds its (dimensions, nb_design, nb_design) kernels' memory (8 x 4000^2
#: floats: 0.5 GB), without changing its result (xplique's own test).
HSIC_ESTIMATOR_BATCH = 8
#: The recommended D-RISE design, one constant: (row name, constructor ``(model, **run options) -> DRise``): drise_tf's
#: preset (:meth:`DRise.recommended`, the design sweep's choice), at the budget's N.
RECOMMENDED: Tuple[str, Callable[..., DRise]] = ("D-RISE recommended", DRise.recommended)


# ------------------------------------------------------------------------------------------------- the methods
#: An explainer ready to run: (images (B, H, W, C), true classes (B,)) -> maps.
Explain = Callable[[np.ndarray, np.ndarray], Any]


@dataclass(frozen=True)
class Method:
    """One row of the benchmark.

    Attributes
    ----------
    options : callable
        Budget (model calls per map, about) -> the method's own options nearest it.
    calls : callable
        Options -> the model calls one map makes.
    build : callable
        (model, options, seed) -> :data:`Explain`; built once per run and seed (masks and compiled steps kept).
    random : bool
        Whether its maps change with the seed.
    budgets : tuple of int, optional
        The budgets it runs at, where its authors' settings put it (None: every budget).
    """

    options: Callable[[int], Dict[str, Any]]
    calls: Callable[[Mapping[str, Any]], int]
    build: Callable[[Any, Mapping[str, Any], int], Explain]
    random: bool
    budgets: Optional[Tuple[int, ...]] = None


def one_hot(labels: np.ndarray, model: Any) -> np.ndarray:
    """xplique's targets: one-hot vectors (B, classes) of the classes explained."""
    return np.eye(model.output_shape[-1], dtype=np.float32)[labels]


def sobol_calls(options: Mapping[str, Any]) -> int:
    """Sobol's calls per map: designs A and B, then one design per grid cell (``nb_design * (grid**2 + 2)``)."""
    return options["nb_design"] * (options["grid_size"] ** 2 + 2)


def build_xplique_rise(model: Any, options: Mapping[str, Any], seed: int) -> Explain:
    """xplique's RISE; ``seed`` is not used (its masks come from TensorFlow's global generator, seeded once per
    process: see the module's docstring)."""
    explainer = Rise(model, nb_samples=options["nb_samples"], grid_size=7, preservation_probability=0.5,
                     mask_value=0.0, batch_size=FORWARD_BATCH)
    return lambda images, labels: explainer.explain(images, one_hot(labels, model))


def build_sobol(model: Any, options: Mapping[str, Any], seed: int) -> Explain:
    """xplique's Sobol attribution (deterministic: ``seed`` is not used)."""
    explainer = SobolAttributionMethod(model, grid_size=options["grid_size"], nb_design=options["nb_design"],
                                       sampler=TFSobolSequenceRS(), estimator=JansenEstimator(),
                                       perturbation_function="inpainting", batch_size=FORWARD_BATCH)
    return lambda images, labels: explainer.explain(images, one_hot(labels, model))


def build_hsic(model: Any, options: Mapping[str, Any], seed: int) -> Explain:
    """xplique's HSIC attribution (deterministic: ``seed`` is not used)."""
    explainer = HsicAttributionMethod(model, grid_size=options["grid_size"], nb_design=options["nb_design"],
                                      sampler=TFSobolSequence(binary=True),
                                      estimator=BinaryEstimator(output_kernel="rbf"),
                                      perturbation_function="inpainting", batch_size=FORWARD_BATCH,
                                      estimator_batch_size=HSIC_ESTIMATOR_BATCH)
    return lambda images, labels: explainer.explain(images, one_hot(labels, model))


def drise_method(preset: Callable[..., DRise]) -> Method:
    """A D-RISE preset (``DRise.rise``, ``DRise.thesis``, ...) run as the evaluation runs it: ``n_masks`` = the
    budget, in the evaluation's mask order (antithetic pairs, :data:`DRISE_OPTIONS`), from its seed."""

    def build(model: Any, options: Mapping[str, Any], seed: int) -> Explain:
        return preset(model, n_masks=options["n_masks"], sampling=DRISE_OPTIONS["sampling"], seed=seed,
                      batch_size=FORWARD_BATCH).explain

    return Method(options=lambda budget: {"n_masks": budget}, calls=lambda options: options["n_masks"], build=build,
                  random=True)


METHODS: Dict[str, Method] = {
    "xplique RISE": Method(options=lambda budget: {"nb_samples": budget}, calls=lambda options: options["nb_samples"],
                           build=build_xplique_rise, random=True),
    "xplique Sobol 8x8": Method(options=lambda budget: {"grid_size": 8, "nb_design": SOBOL_DESIGNS},
                                calls=sobol_calls, build=build_sobol, random=False, budgets=(2000,)),
    "xplique Sobol 11x11": Method(options=lambda budget: {"grid_size": 11, "nb_design": SOBOL_DESIGNS},
                                  calls=sobol_calls, build=build_sobol, random=False, budgets=(4000,)),
    "xplique HSIC 8x8": Method(options=lambda budget: {"grid_size": 8, "nb_design": min(budget, HSIC_MOST_DESIGNS)},
                               calls=lambda options: options["nb_design"], build=build_hsic, random=False,
                               budgets=(750, 2000)),
    "RISE": drise_method(DRise.rise),
    "D-RISE (thesis)": drise_method(DRise.thesis),
    RECOMMENDED[0]: drise_method(RECOMMENDED[1]),
}


def as_maps(found: Any, images: np.ndarray, name: str) -> np.ndarray:
    """A method's maps as float32 (B, H, W): xplique's (B, H, W, 1) lose their channel axis."""
    maps = np.asarray(found, dtype=np.float32)
    if maps.shape == (*images.shape[:3], 1):
        maps = maps[..., 0]
    if maps.shape != images.shape[:3] or not np.isfinite(maps).all():
        raise ValueError(f"{name} returned maps of shape {maps.shape} (finite: {np.isfinite(maps).all()}) for images "
                         f"{images.shape}")
    return maps


# ----------------------------------------------------------------------------------------------------- the run
def forward_seconds(model: Any, images: np.ndarray) -> float:
    """Seconds per input of a pure compiled forward pass of ``model`` (batches of :data:`FORWARD_BATCH`)."""
    batch = tf.constant(np.resize(images, (FORWARD_BATCH, *images.shape[1:])))
    forward = tf.function(lambda x: model(x, training=False))
    forward(batch).numpy()  # trace
    rounds = max(1, FORWARD_INPUTS // FORWARD_BATCH)
    began = time.perf_counter()
    for _ in range(rounds):
        forward(batch).numpy()
    return (time.perf_counter() - began) / (rounds * FORWARD_BATCH)


def methods_at(budget: int) -> Dict[str, Method]:
    """The methods that run at ``budget`` calls per map (:attr:`Method.budgets`)."""
    return {name: method for name, method in METHODS.items() if method.budgets is None or budget in method.budgets}


def run_budget(model: Any, images: np.ndarray, labels: np.ndarray, ids: np.ndarray, budget: int,
               folder: pathlib.Path, *, settings: Mapping[str, Any], resume: bool) -> ResultStore:
    """Explain and measure ``images`` with every method at ``budget`` calls per map, chunk by chunk into ``folder``
    (resumable: finished chunks are skipped, other settings refused)."""
    methods = methods_at(budget)
    options = {name: method.options(budget) for name, method in methods.items()}
    calls = {name: methods[name].calls(options[name]) for name in methods}
    store = ResultStore(folder, {
        **settings, "budget": budget, "seed": SEED, "chunk_size": CHUNK_SIZE, "noise_images": NOISE_IMAGES,
        "forward_batch": FORWARD_BATCH, "metrics": METRIC_SETTINGS, "primary_metric": PRIMARY_METRIC,
        "methods": {name: {"options": options[name], "calls": calls[name], "random": methods[name].random}
                    for name in methods},
        "drise": {"n_masks": budget, "sampling": DRISE_OPTIONS["sampling"]},  # the D-RISE and RISE rows
    }, resume=resume)
    evaluation = Evaluation(model, drise_options={}, similarities=[], methods={}, seed=SEED, batch_size=FORWARD_BATCH)
    forward = evaluation.metric_model()  # the folded copy: every explainer and metric forwards through it
    explainers: Dict[Tuple[str, int], Explain] = {}

    def explain(name: str, x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
        if (name, seed) not in explainers:
            explainers[name, seed] = methods[name].build(forward, options[name], seed)
        return as_maps(explainers[name, seed](x, y), x, name)

    finished = set(store.finished())
    starts = [start for start in range(0, len(images), CHUNK_SIZE) if start not in finished]
    began = time.perf_counter()
    for count, start in enumerate(starts, start=1):
        positions = np.arange(start, min(start + CHUNK_SIZE, len(images)))
        x, y = images[positions], labels[positions]
        maps, seconds = {}, {}
        for name in methods:
            clock = time.perf_counter()
            maps[name] = explain(name, x, y, SEED)
            seconds[name] = (time.perf_counter() - clock) / len(positions)
        per_input = forward_seconds(forward, x)
        measured, measured_as = evaluation.measure(x, y, maps, metric_seed=(SEED, start))
        noise = positions < NOISE_IMAGES
        stability = {name: np.full(len(positions), np.nan if methods[name].random else 1.0) for name in methods}
        second = {name: explain(name, x[noise], y[noise], SEED + 1) for name in methods
                  if methods[name].random and noise.any()}
        for name, found in second.items():
            stability[name][noise] = rank_correlation(maps[name][noise], found)
        values = {name: {**measured[name], "stability": stability[name], "calls": np.full(len(positions), calls[name]),
                         "seconds": np.full(len(positions), seconds[name]),
                         "forward_ratio": np.full(len(positions), seconds[name] / (calls[name] * per_input))}
                  for name in methods}
        records = _records(ids[positions], y, positions, 0, values, measured_as)
        if second:
            measured, measured_as = evaluation.measure(x[noise], y[noise], second, metric_seed=(SEED, start))
            records += _records(ids[positions][noise], y[noise], positions[noise], 1, measured, measured_as)
        store.write(start, records)
        done = len(images) - sum(min(CHUNK_SIZE, len(images) - s) for s in starts[count:])
        rate = sum(min(CHUNK_SIZE, len(images) - s) for s in starts[:count]) / (time.perf_counter() - began) * 60
        print(f"[peers] {folder.parent.name} at {budget} calls: {done}/{len(images)} images, {rate:.1f} images/min, "
              f"about {(len(images) - done) / rate:.0f} min left; s/map: "
              + ", ".join(f"{name} {value:.2f}" for name, value in seconds.items()), flush=True)
    return store


# ------------------------------------------------------------------------------------------------------ answer
#: The metrics of the table besides the primary one: metric -> column heading.
SECONDARY = {"mu_fidelity": "MuFidelity", "deletion_auc": "deletion AUC", "insertion_auc": "insertion AUC"}


def _ranking_rows(folder: pathlib.Path, metric: str) -> Dict[str, Dict[str, str]]:
    """Method -> its row of the report's ``ranking_<metric>.csv`` (a merged row under each of its methods)."""
    with open(folder / f"ranking_{metric}.csv", encoding="utf-8", newline="") as stream:
        return {name: row for row in csv.DictReader(stream) for name in row["variant"].split(" = ")}


def summary_rows(folder: pathlib.Path) -> List[Dict[str, Any]]:
    """One row per method of a finished (or partial) budget folder, from the report ``write_report`` writes there."""
    write_report(folder)
    settings, records = read_records(folder)
    seconds, ratio = metric_values(records, "seconds"), metric_values(records, "forward_ratio")
    rankings = {metric: _ranking_rows(folder, metric) for metric in (PRIMARY_METRIC, *SECONDARY)}
    rows = []
    for name, method in settings["methods"].items():
        primary = rankings[PRIMARY_METRIC][name]
        row = {"network": folder.parent.name, "budget": settings["budget"], "method": name,
               "calls": method["calls"], "n": int(primary["n"]), "road_gap": float(primary["mean"]),
               "low": float(primary["low"]), "high": float(primary["high"]), "group": primary["letters"],
               "noise": float(primary["noise"]),
               "two_seed_spearman": float(primary["stability"]) if method["random"] else "deterministic",
               "seconds_per_map": float(np.nanmedian(seconds[name])),
               "forward_ratio": float(np.nanmedian(ratio[name]))}
        for metric in SECONDARY:
            row[metric] = float(rankings[metric][name]["mean"])
            row[f"{metric}_group"] = rankings[metric][name]["letters"]
        rows.append(row)
    return rows


def write_summary(out: pathlib.Path, networks: Sequence[str], cpu: str) -> Dict[str, str]:
    """The table (``peers.md``, ``peers.csv``) and the figure (``road_gap_calls.png``) of every budget folder run so
    far under ``out/<network>/``."""
    rows = [row for network in networks for budget in BUDGETS
            if (out / network / f"calls-{budget}" / "chunks").is_dir()
            for row in summary_rows(out / network / f"calls-{budget}")]
    if not rows:
        raise ValueError(f"{out} holds no finished chunk yet: nothing to summarise")
    panels: Dict[str, Dict[str, List[Tuple[float, float, float, float]]]] = {}
    for row in rows:
        panels.setdefault(row["network"], {}).setdefault(row["method"], []).append(
            (row["calls"], row["road_gap"], row["low"], row["high"]))
    shown = [{"network": row["network"], "budget": row["budget"], "method": row["method"], "calls": row["calls"],
              "ROAD gap [95% CI]": f"{row['road_gap']:.3f} [{row['low']:.3f}, {row['high']:.3f}]",
              "group": row["group"], "noise": row["noise"], "two-seed Spearman": row["two_seed_spearman"],
              **{heading: f"{row[metric]:.3f} {row[f'{metric}_group']}" for metric, heading in SECONDARY.items()},
              "s / map": row["seconds_per_map"], "x forward": row["forward_ratio"], "images": row["n"]}
             for row in rows]
    text = (f"# D-RISE beside xplique's black-box peers at equal model calls\n\nbenchmarks/peers.py (declared before "
            f"the run): every method explains the same test images of each network for their true class; ROAD gap "
            f"(primary, {'higher' if METRICS[PRIMARY_METRIC] else 'lower'} is better) with its 95% bootstrap interval "
            f"over the images; methods that share a group letter cannot be told apart within one network and budget "
            f"(paired Wilcoxon, Holm, or within twice the Monte Carlo noise: `noise`, from a second seed on the first "
            f"{NOISE_IMAGES} images; 0 for Sobol and HSIC, whose QMC designs are deterministic); MuFidelity, deletion "
            f"and insertion AUC with their own letters; `calls`: model calls per map, exact; `s / map`: median "
            f"seconds per map over chunks; `x forward`: that over a pure forward pass of as many inputs. CPU: {cpu}; "
            f"xplique {xplique.__version__} ({PERCENTILE}).\n\n"
            + tables.markdown_table(shown, list(shown[0])) + "\n")
    return {"markdown": write_text_atomic(out / "peers.md", text), "csv": tables.write_csv(rows, out / "peers.csv"),
            "figure": save(calls_figure(panels, metric="ROAD gap"), out / "road_gap_calls.png", close=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 source (default: $DRISE_TF_DATA, else Keras's)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="trained run folders (default: declared)")
    parser.add_argument("--images", type=int, default=IMAGES, help="test images (default: declared; fewer: a trial)")
    parser.add_argument("--out", default="docs/peers", help="results folder")
    parser.add_argument("--resume", action="store_true", help="continue the runs stored in --out")
    args = parser.parse_args()

    cpu = cpu_description()
    print(f"[peers] CPU: {cpu}; xplique {xplique.__version__} ({PERCENTILE}); budgets {BUDGETS} calls per map",
          flush=True)
    tf.random.set_seed(SEED)  # xplique's RISE masks (see the module's docstring)
    _, (x_test, y_test) = load_cifar10(args.data)
    ids = chosen_test_images(len(x_test), args.images, SEED)  # as evaluate-maps chooses
    out = pathlib.Path(args.out)
    networks = []
    for model_dir in args.models:
        model, standardizer = load_run(model_dir)
        images, labels = standardizer.transform(x_test[ids]), np.asarray(y_test[ids]).astype(np.int64)
        network = pathlib.Path(model_dir).name
        networks.append(network)
        settings = {"run": str(model_dir), "model": model_fingerprint(model), "images": len(ids),
                    "image_ids": ids.tolist(),
                    "images_sha256": hashlib.sha256(np.ascontiguousarray(x_test[ids]).tobytes()).hexdigest(),
                    "xplique": xplique.__version__, "percentile": PERCENTILE}
        for budget in BUDGETS:
            run_budget(model, images, labels, ids, budget, out / network / f"calls-{budget}", settings=settings,
                       resume=args.resume)
    for kind, path in write_summary(out, networks, cpu).items():
        print(f"[peers] {kind}: {path}", flush=True)


if __name__ == "__main__":
    main()
