"""Command line: argument parsing only; every command calls one library function.

    python -m drise_tf train --recipe thesis --epochs 100 --data PATH --out models/NAME
    python -m drise_tf evaluate --run models/NAME [--data PATH]
    python -m drise_tf evaluate-maps --run models/NAME --images 1000 [--resume] [--data PATH]
    python -m drise_tf explain --run models/NAME IMAGE [IMAGE ...] [--method drise] [--class cat] --out FOLDER
    python -m drise_tf design-sweep screening|confirmation NETWORK [--out docs/design-sweep] [--resume]
    python -m drise_tf design-sweep-report screening|confirmation [--out docs/design-sweep]
    python -m drise_tf compare-evaluations RESULTS_A RESULTS_B [--metric road_gap] [--out FOLDER]
    python -m drise_tf compare-networks NAME=RESULTS NAME=RESULTS ... [--accuracy NAME=0.9] [--out FOLDER]
    python -m drise_tf reproduce --profile quick|thesis [--data PATH]
    python -m drise_tf figures --profile quick|thesis [--data PATH]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import Callable, List, Optional

from drise_tf.core import console

DATA_HELP = (
    "CIFAR-10 source: a folder of python batches, the official .tar.gz, an .npz (x_train, y_train, x_test, y_test) "
    "or an image folder; default: $DRISE_TF_DATA, else Keras's download cache"
)
# The library's registries live in modules that import TensorFlow; the parser names them without importing it (a test
# keeps these in step with reproduction.PROFILES, training.RECIPES and ARCHITECTURES, explain.masks.SAMPLINGS,
# explain.similarity, explain.drise.PRECISIONS, evaluation.METRICS, the explainer registry and its masking methods,
# and the model file names of core.compat.MODEL_SUFFIX), so that every argument is checked before TensorFlow is
# imported.
PROFILE_CHOICES = ("quick", "strong", "thesis", "keras_cnn", "tiny")
RECIPE_CHOICES = ("thesis", "onecycle", "cpu_onecycle", "cpu_strong", "adam_cnn")
ARCHITECTURE_CHOICES = ("resnet18", "simple_cnn")
SAMPLING_CHOICES = ("iid", "antithetic", "sobol", "latin", "antithetic_sobol")
PAIRED_SAMPLINGS = ("antithetic", "antithetic_sobol")
SIMILARITY_CHOICES = ("cosine", "cross_entropy", "neg_cross_entropy", "probability", "margin", "cosine_prediction",
                      "kl", "js")
DESIGN_CHOICES = ("default", "factorial", "recommended")
PRECISION_CHOICES = ("float32", "bfloat16")
METRIC_CHOICES = ("road_gap", "road_morf", "road_lerf", "mu_fidelity", "deletion_auc", "insertion_auc", "emprt",
                  "mprt_spearman")
METHOD_CHOICES = ("drise", "rise", "saliency", "smoothgrad", "guided_backprop", "gradcam", "gradcam++", "scorecam",
                  "faster_scorecam")
#: The Monte Carlo methods, whose maps run to a stability (evaluation.comparisons.MASKING_PRESETS).
MONTE_CARLO_METHODS = ("drise", "rise")
# The design sweep's stages and networks (evaluation.design_sweep.STAGES; a test keeps them in step).
SWEEP_STAGE_CHOICES = ("screening", "confirmation")
SWEEP_SCREENING_NETWORKS = ("quick", "keras_cnn")
SWEEP_NETWORK_CHOICES = ("quick", "strong", "strong-epoch10", "keras_cnn")
#: A run folder's model file: model.keras where Keras can save it (>= 2.13), else model.h5.
MODEL_FILES = ("model.keras", "model.h5")


def _positive(text: str) -> int:
    """argparse type: an int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text}")
    return value


def _non_negative(text: str) -> int:
    """argparse type: an int >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {text}")
    return value


def _spearman(text: str) -> float:
    """argparse type: a two-seed Spearman target in (0, 1)."""
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1) (a two-seed Spearman), got {text}")
    return value


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, help=DATA_HELP)


def _add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="quick", choices=PROFILE_CHOICES,
                        help="quick (about 14 min on a 2-core CPU), strong (the shipped strong ResNet-18), thesis "
                        "(a GPU job), keras_cnn or tiny (tests)")
    parser.add_argument("--models-dir", default="models", help="where trained runs live (default: models)")
    parser.add_argument("--figures-dir", default=None,
                        help="where figures are written (default: figures for quick, figures/<profile> otherwise)")
    parser.add_argument("--seed", type=int, default=None, help="override the profile's seed")
    _add_data(parser)


def build_parser() -> argparse.ArgumentParser:
    """The ``drise-tf`` argument parser (each subcommand's parser is ``args.command_parser``)."""
    parser = argparse.ArgumentParser(prog="drise-tf", description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's C++ log lines, full tracebacks and the library warnings hidden by "
                        "default")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and save the run (model, standardizer, history)")
    train.add_argument("--recipe", default="thesis", choices=RECIPE_CHOICES, help="training recipe (default: thesis)")
    train.add_argument("--architecture", default="resnet18", choices=ARCHITECTURE_CHOICES)
    train.add_argument("--width", type=_positive, default=None,
                       help="ResNet-18's base width (default: the thesis's 64)")
    train.add_argument("--epochs", type=_positive, default=None, help="default: the recipe's")
    train.add_argument("--out", required=True, help="run folder, e.g. models/thesis")
    train.add_argument("--n-train", type=_positive, default=None,
                       help="training images (default: all but the validation)")
    train.add_argument("--n-val", type=_positive, default=None,
                       help="validation images, the last of the training set (default: 10000, or 20%% for adam_cnn)")
    train.add_argument("--n-test", type=_positive, default=None, help="test images (default: all)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--precision", default="float32", choices=PRECISION_CHOICES)
    existing = train.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    existing.add_argument("--overwrite", action="store_true", help="train anew over an existing run in --out")
    train.add_argument("--multi-worker", action="store_true",
                       help="train across the workers named in TF_CONFIG (MultiWorkerMirroredStrategy; run on each)")
    train.add_argument("--lr-quirk", action="store_true", help="replay the thesis's cosine decay-length bug")
    train.add_argument("--epoch0-val", default="validation", choices=["validation", "test"],
                       help="set for the epoch-0 validation point (the thesis used test)")
    _add_data(train)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved run on the test set")
    evaluate.add_argument("--run", required=True, help="run folder, e.g. models/thesis")
    evaluate.add_argument("--n-test", type=_positive, default=None)
    _add_data(evaluate)

    maps = commands.add_parser(
        "evaluate-maps", help="explain test images with every D-RISE score and method, measure them (ROAD first), "
        "rank them with paired tests; resumable")
    maps.add_argument("--run", required=True, help="trained run folder, e.g. models/quick")
    chosen = maps.add_mutually_exclusive_group()
    chosen.add_argument("--images", type=_positive, default=1000,
                        help="test images, a seeded random choice (default: 1000)")
    chosen.add_argument("--all-images", action="store_true", help="the whole test set instead of --images")
    maps.add_argument("--out", default=None, help="results folder (default: <run>/evaluation)")
    maps.add_argument("--resume", action="store_true", help="continue the run stored in --out with the same settings")
    maps.add_argument("--n-masks", type=_positive, default=2000,
                      help="D-RISE / RISE masks per image (default: 2000; even for antithetic designs)")
    maps.add_argument("--sampling", default="antithetic", choices=SAMPLING_CHOICES, help="mask design")
    maps.add_argument("--precision", default="float32", choices=PRECISION_CHOICES,
                      help="precision of the forward passes of the D-RISE / RISE masks and of the metrics (bfloat16: "
                      "several times faster on CPUs with AVX512-BF16 or AMX; softmax within ~1e-3, metrics within "
                      "~0.001 per image); the gradient and CAM methods always run in float32")
    maps.add_argument("--target-stability", type=_spearman, default=None,
                      help="run each map to this estimated two-seed Spearman in (0, 1) instead of a fixed --n-masks")
    maps.add_argument("--max-masks", type=_positive, default=None,
                      help="cap of masks per image with --target-stability (>= --n-masks)")
    maps.add_argument("--similarities", nargs="+", choices=SIMILARITY_CHOICES, default=None,
                      help="D-RISE scores evaluated (default: every registered score)")
    maps.add_argument("--designs", default="default", choices=DESIGN_CHOICES,
                      help="D-RISE mask designs: the default one (the thesis's masks under every score), the factorial "
                      "of grids 7x7 / 16x16 and nearest / bilinear upsampling from equal N (with --similarities "
                      "cosine probability: why RISE beats D-RISE), or recommended: the default rows and the "
                      "recommended D-RISE design as one more row")
    maps.add_argument("--noise-images", type=_non_negative, default=100,
                      help="first images explained with a second seed, for the maps' Monte Carlo noise (default 100)")
    maps.add_argument("--mprt-images", type=_non_negative, default=100,
                      help="first images explained on the fully randomised model too, for the eMPRT (default 100)")
    maps.add_argument("--chunk-size", type=_positive, default=25, help="images per stored chunk (default: 25)")
    maps.add_argument("--seed", type=int, default=0)
    maps.add_argument("--multi-worker", action="store_true",
                      help="spread the masks' forward passes over the workers named in TF_CONFIG (run on each)")
    _add_data(maps)

    explain = commands.add_parser(
        "explain", help="explain PNG / JPEG files with a trained run: per image an overlay, an uncertainty figure "
        "(D-RISE, RISE) and the map (.npy), and a summary CSV")
    explain.add_argument("--run", required=True, help="trained run folder, e.g. models/strong")
    explain.add_argument("images", nargs="+", metavar="IMAGE",
                         help="a PNG or JPEG file (any size and mode; resized to the model's input, bicubic), or a "
                         "folder: its PNG and JPEG files, sorted (not its sub-folders)")
    explain.add_argument("--out", required=True, help="output folder")
    explain.add_argument("--method", default="drise", choices=METHOD_CHOICES, help="default: drise")
    explain.add_argument("--similarity", default=None, choices=SIMILARITY_CHOICES,
                         help="D-RISE's similarity score (default: D-RISE's own)")
    explain.add_argument("--class", dest="target", default=None, metavar="CLASS",
                         help="the class explained, a name (cat) or index 0..9 (default: the predicted class)")
    explain.add_argument("--target-stability", type=_spearman, default=None,
                         help="D-RISE / RISE: draw masks until the map's estimated two-seed Spearman reaches this, "
                         "in (0, 1) (default: 0.9)")
    explain.add_argument("--max-masks", type=_positive, default=None,
                         help="D-RISE / RISE: the most masks per image (default: 40000)")
    explain.add_argument("--seed", type=int, default=0, help="seed of D-RISE, RISE and SmoothGrad (default: 0)")

    compare = commands.add_parser(
        "compare-evaluations", help="compare two evaluate-maps runs image by image (e.g. a fixed N against a fixed "
        "stability)")
    compare.add_argument("first", help="results folder of the first run")
    compare.add_argument("second", help="results folder of the second run")
    compare.add_argument("--metric", default="road_gap", choices=METRIC_CHOICES,
                         help="the metric compared (default: road_gap, the primary)")
    compare.add_argument("--out", default=None, help="where compare_<metric>.csv / .md go (default: the second run)")

    networks = commands.add_parser(
        "compare-networks", help="which conclusions survive: the variants' orders (Kendall's tau) and the README's "
        "claims compared across networks, each its own evaluate-maps run (images are never paired across networks)")
    networks.add_argument("folders", nargs="+", type=_named, metavar="NAME=RESULTS",
                          help="a network's name and its evaluate-maps results folder")
    networks.add_argument("--accuracy", action="append", type=_named, default=[], metavar="NAME=ACCURACY",
                          help="a network's test accuracy, shown in the claims table's header (repeat per network)")
    read_on = networks.add_mutually_exclusive_group()
    read_on.add_argument("--metric", default="road_gap", choices=METRIC_CHOICES,
                         help="the metric compared (default: road_gap, the primary; the claims were declared on it)")
    read_on.add_argument("--metrics", nargs="+", choices=("all",) + METRIC_CHOICES, default=None,
                         help="instead: does the answer depend on the metric? every claim on every network under each "
                         "of these faithfulness metrics (all: the six) and Kendall's tau between two metrics' orders; "
                         "writes claims_by_metric.csv / .md and metric_taus.csv")
    networks.add_argument("--out", default=".", help="where networks_/claims_<metric>.csv and networks_<metric>.md go")

    sweep = commands.add_parser(
        "design-sweep", help="run one network of a stage of the declared D-RISE design sweep (docs/design-sweep.md): "
        "every design's maps measured, then the masks each needs for a stable map; resumable")
    sweep.add_argument("stage", choices=SWEEP_STAGE_CHOICES, help="screening first, then confirmation")
    sweep.add_argument("network", choices=SWEEP_NETWORK_CHOICES,
                       help="screening: quick or keras_cnn; confirmation: any of the four")
    sweep.add_argument("--out", default="docs/design-sweep", help="the sweep's folder (default: docs/design-sweep)")
    sweep.add_argument("--resume", action="store_true", help="continue this network's stored stage")
    _add_data(sweep)
    sweep_report = commands.add_parser(
        "design-sweep-report", help="the sweep stage's table, Pareto figure and the declared rule's choice, re-read "
        "from the stored chunks (no forward pass)")
    sweep_report.add_argument("stage", choices=SWEEP_STAGE_CHOICES)
    sweep_report.add_argument("--out", default="docs/design-sweep",
                              help="the sweep's folder (default: docs/design-sweep)")

    reproduce = commands.add_parser("reproduce", help="train if needed, evaluate, explain, write figures/")
    _add_profile(reproduce)
    reproduce.add_argument("--epochs", type=_positive, default=None, help="override the profile's epochs")
    reproduce.add_argument("--retrain", action="store_true", help="train anew even if the run exists")

    figures = commands.add_parser("figures", help="regenerate every figure from an existing trained run")
    _add_profile(figures)
    for name, command in commands.choices.items():
        command.set_defaults(command_parser=command)
    return parser


def _check_sweep(args: argparse.Namespace, error: Callable[[str], None]) -> None:
    """The sweep's network belongs to its stage, the confirmation follows a finished screening, a stored stage is
    only continued with ``--resume``, and a report reads a stage that exists."""
    stage = pathlib.Path(args.out) / args.stage
    if args.command == "design-sweep-report":
        if not stage.is_dir():
            error(f"argument stage: {stage} does not exist; run `drise-tf design-sweep {args.stage} NETWORK` first")
        return
    if args.stage == "screening" and args.network not in SWEEP_SCREENING_NETWORKS:
        error(f"argument network: the screening runs on {' and '.join(SWEEP_SCREENING_NETWORKS)}, not {args.network}")
    if args.stage == "confirmation":
        for network in SWEEP_SCREENING_NETWORKS:
            if not (pathlib.Path(args.out) / "screening" / network / "stability" / "settings.json").is_file():
                error(f"argument stage: the confirmation's designs come from the screening, and {args.out} holds no "
                      f"screening of {network}; run `drise-tf design-sweep screening {network}` first")
    stored = stage / args.network / "evaluation" / "settings.json"
    if stored.is_file() and not args.resume:
        error(f"argument network: {stored.parent.parent} already holds this stage; pass --resume to continue it")


def _named(text: str) -> tuple:
    """``NAME=VALUE`` -> ``(name, value)``."""
    name, equals, value = text.partition("=")
    if not (name and equals and value):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _has_model(folder: pathlib.Path) -> bool:
    return any((folder / name).is_file() for name in MODEL_FILES)


def _has_run(folder: pathlib.Path) -> bool:
    return _has_model(folder) or (folder / "checkpoints" / "state.json").is_file()


def _check_paths(args: argparse.Namespace, error: Callable[[str], None]) -> None:
    """The paths every command shares: ``--data`` exists when given, ``--run`` holds a model file, and output
    folders (``--out``, ``--models-dir``, ``--figures-dir``) are not files."""
    if getattr(args, "data", None) is not None and not os.path.exists(args.data):
        error(f"argument --data: {args.data} does not exist (a CIFAR-10 .tar.gz, .npz, python batches folder or "
              f"image folder)")
    if getattr(args, "run", None) is not None and not _has_model(pathlib.Path(args.run)):
        error(f"argument --run: {args.run} holds no trained run (no {' or '.join(MODEL_FILES)}); train it first")
    for name in ("out", "models_dir", "figures_dir"):
        folder = getattr(args, name, None)
        if folder is not None and os.path.exists(folder) and not os.path.isdir(folder):
            error(f"argument --{name.replace('_', '-')}: {folder} is a file, not a folder")
    if args.command == "figures" and not os.path.isdir(args.models_dir):
        error(f"argument --models-dir: {args.models_dir} does not exist; run `python -m drise_tf reproduce --profile "
              f"{args.profile}` first")


def _check_explain(args: argparse.Namespace, error: Callable[[str], None]) -> None:
    """``explain``'s options that belong to one method, its class, and every image file (opened and decoded)."""
    from drise_tf.data.image_files import find_image_files
    from drise_tf.data.sources import class_index

    if args.similarity is not None and args.method != "drise":
        error(f"argument --similarity: only drise has a similarity score, not {args.method}")
    for name in ("target_stability", "max_masks"):
        if getattr(args, name) is not None and args.method not in MONTE_CARLO_METHODS:
            error(f"argument --{name.replace('_', '-')}: only the Monte Carlo methods "
                  f"{', '.join(MONTE_CARLO_METHODS)} run to a stability, not {args.method}")
    if args.target is not None:
        try:
            class_index(args.target, "argument --class")
        except ValueError as wrong:
            error(str(wrong))
    try:
        find_image_files(args.images)
    except (FileNotFoundError, ValueError) as wrong:
        error(f"argument IMAGE: {wrong}")


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse what the parser's types and choices cannot see (ranges, parities, combinations, missing inputs,
    existing outputs, unreadable image files) before any model or data is loaded and before TensorFlow is
    imported: ``args.command_parser.error`` prints the command's usage and the argument that is wrong, and exits
    with status 2."""
    error = args.command_parser.error
    _check_paths(args, error)
    if args.command == "explain":
        _check_explain(args, error)
    elif args.command == "train":
        out = pathlib.Path(args.out)
        if _has_run(out) and not (args.resume or args.overwrite):
            error(f"argument --out: {out} already holds a trained run; pass --resume to continue it or --overwrite "
                  f"to train anew over it")
        if args.resume and not (out / "checkpoints" / "state.json").is_file():
            error(f"argument --resume: {out} has no checkpoints/state.json to resume from")
        if args.width is not None and args.architecture != "resnet18":
            error(f"argument --width: only resnet18 has a width, not {args.architecture}")
        if args.lr_quirk and args.recipe != "thesis":
            error(f"argument --lr-quirk: only the thesis recipe has the decay-length quirk, not {args.recipe}")
    elif args.command == "evaluate-maps":
        if args.sampling in PAIRED_SAMPLINGS and args.n_masks % 2:
            error(f"argument --n-masks: {args.sampling} masks come in pairs, so --n-masks must be even, "
                  f"got {args.n_masks}")
        if args.max_masks is not None and args.target_stability is None:
            error("argument --max-masks: only means something with --target-stability (a fixed run uses --n-masks)")
        if args.max_masks is not None and args.max_masks < args.n_masks:
            error(f"argument --max-masks: must be >= --n-masks ({args.n_masks}), got {args.max_masks}")
        scores = set(args.similarities or SIMILARITY_CHOICES)
        if args.designs == "factorial" and not {"cosine", "probability"} <= scores:
            error("argument --similarities: the factorial needs cosine and probability (the thesis's and RISE's)")
        if not args.all_images:
            for name in ("noise_images", "mprt_images", "chunk_size"):
                if getattr(args, name) > args.images:
                    error(f"argument --{name.replace('_', '-')}: must be <= --images ({args.images}), "
                          f"got {getattr(args, name)}")
        out = pathlib.Path(args.out) if args.out else pathlib.Path(args.run) / "evaluation"
        if (out / "settings.json").is_file() and not args.resume:
            error(f"argument --out: {out} already holds an evaluation; pass --resume to continue it or choose "
                  f"another --out")
    elif args.command in ("design-sweep", "design-sweep-report"):
        _check_sweep(args, error)
    elif args.command == "compare-evaluations":
        for name in ("first", "second"):
            folder = pathlib.Path(getattr(args, name))
            if not (folder / "settings.json").is_file():
                error(f"argument {name}: {folder} is not an evaluation results folder (it has no settings.json)")
    elif args.command == "compare-networks":
        names = [name for name, _ in args.folders]
        if len(set(names)) < len(names):
            error(f"argument NAME=RESULTS: every network needs its own name, got {names}")
        for name, folder in args.folders:
            if not (pathlib.Path(folder) / "settings.json").is_file():
                error(f"argument NAME=RESULTS: {folder} ({name}) is not an evaluation results folder (it has no "
                      f"settings.json)")
        for name, value in args.accuracy:
            if name not in names:
                error(f"argument --accuracy: {name!r} is not one of the networks {names}")
            try:
                float(value)
            except ValueError:
                error(f"argument --accuracy: {name}'s accuracy must be a number, got {value!r}")


def _one_line(error: BaseException) -> str:
    """The first line of an exception's message, with its type."""
    text = str(getattr(error, "message", "") or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _precision(args: argparse.Namespace) -> str:
    if getattr(args, "precision", None):
        return args.precision
    if args.command == "design-sweep":
        from drise_tf.evaluation.design_sweep import STAGES

        return STAGES[args.stage].networks[args.network][1]
    if getattr(args, "profile", None):
        from drise_tf.reproduction.profiles import PROFILES

        return PROFILES[args.profile].precision if args.profile in PROFILES else "float32"
    return "float32"


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        os.environ[console.VERBOSE_ENV] = "1"
    check_arguments(args)
    console.import_tensorflow()
    print(f"[drise-tf] {console.runtime_summary(_precision(args))}", flush=True)
    import tensorflow as tf

    try:
        if args.command == "train":
            from drise_tf.training import multi_worker_strategy, train_run

            strategy = multi_worker_strategy() if args.multi_worker else None  # first, before other TensorFlow work
            train_run(
                args.out, recipe=args.recipe, architecture=args.architecture, width=args.width, data=args.data,
                n_train=args.n_train,
                n_val=args.n_val, n_test=args.n_test, epochs=args.epochs, seed=args.seed, precision=args.precision,
                resume=args.resume, lr_quirk=args.lr_quirk, epoch0_val=args.epoch0_val, strategy=strategy,
            )
        elif args.command == "evaluate":
            from drise_tf.training import evaluate_run

            evaluate_run(args.run, data=args.data, n_test=args.n_test)
        elif args.command == "evaluate-maps":
            from drise_tf.evaluation import evaluate_run_maps
            from drise_tf.evaluation.run import FACTORIAL_DESIGNS, RECOMMENDED_DESIGNS

            written = evaluate_run_maps(
                args.run, data=args.data, images=None if args.all_images else args.images, out=args.out,
                seed=args.seed, resume=args.resume, noise_images=args.noise_images, mprt_images=args.mprt_images,
                chunk_size=args.chunk_size, multi_worker=args.multi_worker,
                drise_options={"n_masks": args.n_masks, "sampling": args.sampling, "precision": args.precision,
                               "target_stability": args.target_stability, "max_masks": args.max_masks},
                similarities=args.similarities,
                designs={"factorial": FACTORIAL_DESIGNS, "recommended": RECOMMENDED_DESIGNS}.get(args.designs),
            )
            if written:  # the chief's report; the other workers write nothing
                print(f"[evaluate-maps] report: {written['report']}", flush=True)
        elif args.command == "explain":
            from drise_tf.evaluation import explain_image_files

            given = {"similarity": args.similarity, "target_stability": args.target_stability,
                     "max_masks": args.max_masks}
            explain_image_files(args.run, args.images, args.out, method=args.method, target=args.target,
                                seed=args.seed, **{name: value for name, value in given.items() if value is not None})
            print(f"[explain] wrote {args.out}", flush=True)
        elif args.command == "design-sweep":
            from drise_tf.evaluation.design_sweep import run_stage

            written = run_stage(args.stage, args.network, args.out, data=args.data, resume=args.resume)
            print(f"[design-sweep] report: {written['report']}", flush=True)
        elif args.command == "design-sweep-report":
            from drise_tf.evaluation.design_sweep import write_sweep_report

            written = write_sweep_report(args.out, args.stage)
            print(written["text"] + f"[design-sweep-report] wrote {written['csv']}, {written['markdown']} and "
                  f"{written['figure']}", flush=True)
        elif args.command == "compare-evaluations":
            from drise_tf.evaluation import write_comparison

            written = write_comparison(args.first, args.second, args.out or args.second, metric=args.metric)
            print(written["text"] + f"[compare-evaluations] wrote {written['csv']} and {written['markdown']}",
                  flush=True)
        elif args.command == "compare-networks":
            from drise_tf.evaluation import FAITHFULNESS_METRICS, write_metric_comparison, write_network_comparison

            accuracies = {name: float(value) for name, value in args.accuracy}
            if args.metrics:
                metrics = FAITHFULNESS_METRICS if "all" in args.metrics else args.metrics
                written = write_metric_comparison(dict(args.folders), args.out, metrics=metrics, accuracies=accuracies)
                paths = f"{written['claims']}, {written['taus']} and {written['markdown']}"
            else:
                written = write_network_comparison(dict(args.folders), args.out, metric=args.metric,
                                                   accuracies=accuracies)
                paths = f"{written['networks']}, {written['claims']} and {written['markdown']}"
            print(written["text"] + f"[compare-networks] wrote {paths}", flush=True)
        else:
            from drise_tf.reproduction.run import reproduce

            figures_dir = args.figures_dir or ("figures" if args.profile == "quick" else f"figures/{args.profile}")
            reproduce(
                args.profile, data=args.data, models_dir=args.models_dir, figures_dir=figures_dir,
                seed=args.seed, train=args.command == "reproduce",
                retrain=getattr(args, "retrain", False), epochs=getattr(args, "epochs", None),
            )
    except (MemoryError, tf.errors.ResourceExhaustedError) as error:
        if args.verbose:
            raise
        print(f"drise-tf {args.command}: error: out of memory ({_one_line(error)}); use fewer images per chunk "
              f"(--chunk-size), a smaller model or a machine with more memory (--verbose: the traceback)",
              file=sys.stderr)
        return 3
    except tf.errors.OpError as error:
        if args.verbose:
            raise
        print(f"drise-tf {args.command}: error: TensorFlow failed: {_one_line(error)} (--verbose: the traceback)",
              file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        if args.verbose:
            raise
        print(f"drise-tf {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
