"""11 - Which similarity score makes D-RISE faithful? Every score, aggregation and method, on many images, tested.

Every D-RISE similarity score x aggregation (one set of forward passes), RISE, Saliency, SmoothGrad, Grad-CAM,
Grad-CAM++ and Faster-Score-CAM explain the same test images for their TRUE class; every map is measured by the
primary metric, declared here before the run, and by the secondary ones:

* ROAD (Rong et al. 2022), PRIMARY: the removed pixels are filled by noisy linear imputation (not zeros, which is how
  D-RISE's own masks delete and would favour it); the score is the class probability with the least relevant pixels
  removed minus that with the most relevant removed, averaged over 10%, 30%, ..., 90% (higher is better).
* MuFidelity (Bhatt et al. 2020): correlation between the map's sum over random subsets (20% of an 8x8 grid of
  cells, 128 subsets per image) and the probability drop when they are set to 0.
* deletion / insertion AUC (RISE's causal metrics).
* the efficient MPRT (Hedström et al. 2023) on the first MPRT_IMAGES images: how much more complex a map gets when
  the model's weights are all re-initialised (above 1 passes; a map that ignores the model stays at exactly 1).

The results are stored chunk by chunk (RESUME = True continues a killed run); the report ranks the variants with
95% bootstrap intervals, paired Wilcoxon tests with Holm's correction and a compact letter display, beside the Monte
Carlo noise of the maps measured on the first NOISE_IMAGES images with a second seed. D-RISE runs the evaluation's
design (16x16 nearest masks, p 0.5: the thesis's), RISE its own (7x7 bilinear masks): the masks here only set N and
their order. This script calls what ``python -m drise_tf evaluate-maps`` calls, with the same settings (it prints the
command): either one resumes a run of the other.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/11_evaluation.py``.
"""
# %% Set-up: backend, profile and paths (see drise_tf/experiment.py); the evaluation loads the run and the test set
import csv
import shlex
import sys

import matplotlib.pyplot as plt

from drise_tf import evaluation, plotting, setup

exp = setup(__file__, load_data=False, load_model=False)

# %% Parameters
N_IMAGES = exp.profile.k_evaluate  # test images, a seeded random choice (quick: 1000; thesis: None = all 10,000)
N_MASKS = exp.profile.evaluate_masks  # D-RISE / RISE masks per map (2000 antithetic: see the README)
SAMPLING = "antithetic"  # mask order: "iid" (thesis), "antithetic", "sobol", "latin" or "antithetic_sobol"
TARGET_STABILITY = None  # e.g. 0.8: masks per image until every map's estimated two-seed Spearman reaches it
MAX_MASKS = None  # with TARGET_STABILITY: most masks per image (None: 20 x N_MASKS)
PRECISION = "float32"  # forward passes of masks and metrics: "bfloat16" is ~4x faster on AVX512-BF16 / AMX CPUs
NOISE_IMAGES = min(100, max(1, (N_IMAGES or 10000) // 10))  # first images with a second seed: Monte Carlo noise
MPRT_IMAGES = NOISE_IMAGES  # the first images explained on the fully randomised model too: eMPRT
CHUNK = 25 if exp.profile.name != "tiny" else 3  # images per stored chunk
SEED = exp.profile.seed  # seed of the image choice, the masks, SmoothGrad's noise and the metrics' draws
RESUME = False  # True: continue the run stored in OUT (same settings), skipping its finished chunks
OUT = exp.run_dir / "evaluation"  # results folder

print("primary metric, declared before the run:", evaluation.PRIMARY_METRIC)
command = [sys.executable, "-m", "drise_tf", "evaluate-maps", "--run", str(exp.run_dir), "--out", str(OUT),
           *(["--all-images"] if N_IMAGES is None else ["--images", str(N_IMAGES)]),
           "--n-masks", str(N_MASKS), "--sampling", SAMPLING, "--precision", PRECISION,
           *([] if TARGET_STABILITY is None else ["--target-stability", str(TARGET_STABILITY)]),
           *([] if MAX_MASKS is None else ["--max-masks", str(MAX_MASKS)]),
           "--noise-images", str(NOISE_IMAGES), "--mprt-images", str(MPRT_IMAGES), "--chunk-size", str(CHUNK),
           "--seed", str(SEED), *([] if exp.data is None else ["--data", exp.data])]
print("the same run from a terminal (add --resume to continue it):", shlex.join(command))

# %% Explain and measure the test images for their true class, chunk by chunk (progress shows images done, rate and
# time left); then the answer: rankings with intervals, paired tests, letters and the noise floor (CSV, markdown,
# figure)
written = evaluation.evaluate_run_maps(
    exp.run_dir, data=exp.data, images=N_IMAGES, out=OUT, seed=SEED, resume=RESUME, chunk_size=CHUNK,
    noise_images=NOISE_IMAGES, mprt_images=MPRT_IMAGES,
    drise_options={"n_masks": N_MASKS, "sampling": SAMPLING, "precision": PRECISION,
                   "target_stability": TARGET_STABILITY, "max_masks": MAX_MASKS},
)
print(open(written["report"], encoding="utf-8").read())

# %% The primary metric's ranking as a figure (intervals over images, Monte Carlo noise band, letters)
with open(written[f"ranking_{evaluation.PRIMARY_METRIC}"], encoding="utf-8") as stream:
    rows = list(csv.DictReader(stream))
shown = "all" if N_IMAGES is None else N_IMAGES
fig = plotting.ranking_figure(rows, title=f"{evaluation.PRIMARY_METRIC} on {shown} test images")
plotting.save(fig, exp.figures_dir / "11_ranking_road_gap.png")
plt.show()
