"""Command line: argument parsing only; every command calls one library function.

    python -m drise_tf train --recipe thesis --epochs 100 --data PATH --out models/NAME
    python -m drise_tf evaluate --run models/NAME [--data PATH]
    python -m drise_tf evaluate-maps --run models/NAME --images 1000 [--resume] [--data PATH]
    python -m drise_tf compare-evaluations RESULTS_A RESULTS_B [--metric road_gap] [--out FOLDER]
    python -m drise_tf reproduce --profile quick|thesis [--data PATH]
    python -m drise_tf figures --profile quick|thesis [--data PATH]
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from drise_tf.core import console

DATA_HELP = (
    "CIFAR-10 source: a folder of python batches, the official .tar.gz, an .npz (x_train, y_train, x_test, y_test) "
    "or an image folder; default: $DRISE_TF_DATA, else Keras's download cache"
)


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, help=DATA_HELP)


def _add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="quick", help="quick (about 14 min on a 2-core CPU), thesis (a GPU job) or keras_cnn")
    parser.add_argument("--models-dir", default="models", help="where trained runs live (default: models)")
    parser.add_argument("--figures-dir", default="figures", help="where figures are written (default: figures)")
    parser.add_argument("--seed", type=int, default=None, help="override the profile's seed")
    _add_data(parser)


def build_parser() -> argparse.ArgumentParser:
    """The ``drise-tf`` argument parser."""
    parser = argparse.ArgumentParser(prog="drise-tf", description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's C++ log lines and the library warnings hidden by default")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and save the run (model, standardizer, history)")
    train.add_argument("--recipe", default="thesis", help="thesis, onecycle, cpu_onecycle or adam_cnn")
    train.add_argument("--architecture", default="resnet18", help="resnet18 or simple_cnn")
    train.add_argument("--width", type=int, default=None, help="ResNet-18's base width (default: the thesis's 64)")
    train.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    train.add_argument("--out", required=True, help="run folder, e.g. models/thesis")
    train.add_argument("--n-train", type=int, default=None, help="training images (default: all but the validation)")
    train.add_argument("--n-val", type=int, default=None,
                       help="validation images, the last of the training set (default: 10000, or 20%% for adam_cnn)")
    train.add_argument("--n-test", type=int, default=None, help="test images (default: all)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    train.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    train.add_argument("--multi-worker", action="store_true",
                       help="train across the workers named in TF_CONFIG (MultiWorkerMirroredStrategy; run on each)")
    train.add_argument("--lr-quirk", action="store_true", help="replay the thesis's cosine decay-length bug")
    train.add_argument("--epoch0-val", default="validation", choices=["validation", "test"],
                       help="set for the epoch-0 validation point (the thesis used test)")
    _add_data(train)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved run on the test set")
    evaluate.add_argument("--run", required=True, help="run folder, e.g. models/thesis")
    evaluate.add_argument("--n-test", type=int, default=None)
    _add_data(evaluate)

    maps = commands.add_parser(
        "evaluate-maps", help="explain test images with every D-RISE score and method, measure them (ROAD first), "
        "rank them with paired tests; resumable")
    maps.add_argument("--run", required=True, help="trained run folder, e.g. models/quick")
    maps.add_argument("--images", type=int, default=1000, help="test images, a seeded random choice (default: 1000)")
    maps.add_argument("--all-images", action="store_true", help="the whole test set instead of --images")
    maps.add_argument("--out", default=None, help="results folder (default: <run>/evaluation)")
    maps.add_argument("--resume", action="store_true", help="continue the run stored in --out with the same settings")
    maps.add_argument("--n-masks", type=int, default=2000, help="D-RISE / RISE masks per image (default: 2000)")
    maps.add_argument("--sampling", default="antithetic",
                      help="mask design: iid, antithetic, sobol, latin or antithetic_sobol")
    maps.add_argument("--target-stability", type=float, default=None,
                      help="run each map to this estimated two-seed Spearman instead of a fixed --n-masks")
    maps.add_argument("--max-masks", type=int, default=None, help="cap of masks per image with --target-stability")
    maps.add_argument("--noise-images", type=int, default=100,
                      help="first images explained with a second seed, for the maps' Monte Carlo noise (default 100)")
    maps.add_argument("--mprt-images", type=int, default=100,
                      help="first images explained on the fully randomised model too, for the eMPRT (default 100)")
    maps.add_argument("--chunk-size", type=int, default=25, help="images per stored chunk (default: 25)")
    maps.add_argument("--seed", type=int, default=0)
    maps.add_argument("--multi-worker", action="store_true",
                      help="spread the masks' forward passes over the workers named in TF_CONFIG (run on each)")
    _add_data(maps)

    compare = commands.add_parser(
        "compare-evaluations", help="compare two evaluate-maps runs image by image (e.g. a fixed N against a fixed "
        "stability)")
    compare.add_argument("first", help="results folder of the first run")
    compare.add_argument("second", help="results folder of the second run")
    compare.add_argument("--metric", default="road_gap", help="the metric compared (default: road_gap, the primary)")
    compare.add_argument("--out", default=None, help="where compare_<metric>.csv / .md go (default: the second run)")

    reproduce = commands.add_parser("reproduce", help="train if needed, evaluate, explain, write figures/")
    _add_profile(reproduce)
    reproduce.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    reproduce.add_argument("--retrain", action="store_true", help="train anew even if the run exists")

    figures = commands.add_parser("figures", help="regenerate every figure from an existing trained run")
    _add_profile(figures)
    return parser


def _precision(args: argparse.Namespace) -> str:
    if getattr(args, "precision", None):
        return args.precision
    if getattr(args, "profile", None):
        from drise_tf.reproduction.profiles import PROFILES

        return PROFILES[args.profile].precision if args.profile in PROFILES else "float32"
    return "float32"


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        os.environ[console.VERBOSE_ENV] = "1"
    console.import_tensorflow()
    print(f"[drise-tf] {console.runtime_summary(_precision(args))}", flush=True)
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

            written = evaluate_run_maps(
                args.run, data=args.data, images=None if args.all_images else args.images, out=args.out,
                seed=args.seed, resume=args.resume, noise_images=args.noise_images, mprt_images=args.mprt_images,
                chunk_size=args.chunk_size, multi_worker=args.multi_worker,
                drise_options={"n_masks": args.n_masks, "sampling": args.sampling,
                               "target_stability": args.target_stability, "max_masks": args.max_masks},
            )
            if written:  # the chief's report; the other workers write nothing
                print(f"[evaluate-maps] report: {written['report']}", flush=True)
        elif args.command == "compare-evaluations":
            from drise_tf.evaluation import write_comparison

            written = write_comparison(args.first, args.second, args.out or args.second, metric=args.metric)
            print(written["text"] + f"[compare-evaluations] wrote {written['csv']} and {written['markdown']}",
                  flush=True)
        else:
            from drise_tf.reproduction.run import reproduce

            reproduce(
                args.profile, data=args.data, models_dir=args.models_dir, figures_dir=args.figures_dir,
                seed=args.seed, train=args.command == "reproduce",
                retrain=getattr(args, "retrain", False), epochs=getattr(args, "epochs", None),
            )
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"drise-tf {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
