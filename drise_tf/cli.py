"""Command line: argument parsing only; every command calls one library function.

    python -m drise_tf train --recipe thesis --epochs 100 --data PATH --out models/NAME
    python -m drise_tf evaluate --run models/NAME [--data PATH]
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
    train.add_argument("--lr-quirk", action="store_true", help="replay the thesis's cosine decay-length bug")
    train.add_argument("--epoch0-val", default="validation", choices=["validation", "test"],
                       help="set for the epoch-0 validation point (the thesis used test)")
    _add_data(train)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved run on the test set")
    evaluate.add_argument("--run", required=True, help="run folder, e.g. models/thesis")
    evaluate.add_argument("--n-test", type=int, default=None)
    _add_data(evaluate)

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
            from drise_tf.training import train_run

            train_run(
                args.out, recipe=args.recipe, architecture=args.architecture, width=args.width, data=args.data,
                n_train=args.n_train,
                n_val=args.n_val, n_test=args.n_test, epochs=args.epochs, seed=args.seed, precision=args.precision,
                resume=args.resume, lr_quirk=args.lr_quirk, epoch0_val=args.epoch0_val,
            )
        elif args.command == "evaluate":
            from drise_tf.training import evaluate_run

            evaluate_run(args.run, data=args.data, n_test=args.n_test)
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
