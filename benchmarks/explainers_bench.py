"""Overhead of drise_tf.explain over calling tf-keras-vis directly, and Score-CAM vs Faster-Score-CAM.

Run by hand: ``python benchmarks/explainers_bench.py [--images 16] [--repeats 3]``. Prints, for each method, the
best-of-``repeats`` time of ``make_explainer(name, model).explain(x, targets)`` and of the equivalent direct
tf-keras-vis call on the same prepared (linear-head) model and batch, and their ratio (target <= 1.05). Then
Score-CAM vs Faster-Score-CAM on the 512 channels of ResNet-18's last block. Timings drift on shared machines: read
the ratios.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.scorecam import Scorecam
from tf_keras_vis.utils.scores import CategoricalScore

from drise_tf.explain import make_explainer
from drise_tf.explain.model_copies import working_copy
from drise_tf.training.architectures import RESNET18_LAST_CONV, resnet18


def best_times(fns, repeats: int) -> list:
    """Best-of-``repeats`` wall time of each function, measured interleaved so drift hits all alike."""
    for fn in fns:
        fn()  # warm-up (tracing, predict function)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, record in zip(fns, times):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [min(record) for record in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scorecam-images", type=int, default=1, help="0 skips the Score-CAM part")
    args = parser.parse_args()

    model = resnet18(num_classes=10)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.images, 32, 32, 3)).astype(np.float32)
    targets = rng.integers(0, 10, args.images)
    linear = working_copy(model)
    score = CategoricalScore(list(targets))
    cam_kw = dict(penultimate_layer=RESNET18_LAST_CONV, seek_penultimate_conv_layer=False, normalize_cam=False)
    direct = {
        "saliency": lambda vis=Saliency(linear, clone=False): vis(score, x, normalize_map=False),
        "gradcam": lambda vis=Gradcam(linear, clone=False): vis(score, x, **cam_kw),
        "gradcam++": lambda vis=GradcamPlusPlus(linear, clone=False): vis(score, x, **cam_kw),
    }
    print(f"ResNet-18, {args.images} images 32x32, best of {args.repeats}")
    print(f"{'method':<12}{'ours (s)':>10}{'tf-keras-vis (s)':>18}{'ratio':>8}")
    for name, call in direct.items():
        explainer = make_explainer(name, model)
        ours, theirs = best_times([lambda: explainer.explain(x, targets), call], args.repeats)
        print(f"{name:<12}{ours:>10.3f}{theirs:>18.3f}{ours / theirs:>8.3f}")

    n = args.scorecam_images
    if n < 1:
        return
    xs, ts = x[:n], targets[:n]
    full = make_explainer("scorecam", model)
    faster = make_explainer("faster_scorecam", model)
    vis = Scorecam(linear, clone=False)
    t_full, t_direct = best_times([lambda: full.explain(xs, ts),
                                   lambda: vis(CategoricalScore(list(ts)), xs, **cam_kw)], 1)
    (t_faster,) = best_times([lambda: faster.explain(xs, ts)], args.repeats)
    print(f"\nScore-CAM on {RESNET18_LAST_CONV} (512 channels), {n} image(s):")
    print(f"scorecam        {t_full:8.3f} s   (direct tf-keras-vis {t_direct:.3f} s, ratio {t_full / t_direct:.3f})")
    print(f"faster_scorecam {t_faster:8.3f} s   (max_n=10; {t_full / t_faster:.1f}x faster than scorecam)")


if __name__ == "__main__":
    main()
