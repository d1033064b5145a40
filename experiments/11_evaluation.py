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
Carlo noise of the maps measured on the first NOISE_IMAGES images with a second seed. The same run from a terminal:
``python -m drise_tf evaluate-maps --run models/quick --images 1000``.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/11_evaluation.py``.
"""
# %% Set-up: backend, profile, paths, test data and the trained run (see drise_tf/experiment.py)
import csv

import matplotlib.pyplot as plt
import numpy as np

from drise_tf import evaluation, plotting, setup
exp = setup(__file__)

# %% Parameters
N_IMAGES = exp.profile.k_evaluate  # test images, a seeded random choice (quick: 1000; thesis: None = all 10,000)
N_MASKS = exp.profile.evaluate_masks  # D-RISE / RISE masks per map (2000 antithetic: see the README)
SAMPLING = "antithetic"  # mask design: "iid" (thesis), "antithetic", "sobol", "latin" or "antithetic_sobol"
TARGET_STABILITY = None  # e.g. 0.8: masks per image until every map's estimated two-seed Spearman reaches it
GRID_SIZE = exp.profile.grid_size  # D-RISE mask grid (thesis: 16); RISE keeps its own 7x7 bilinear masks
MASK_BATCH = exp.profile.mask_batch  # masked images per forward pass
NOISE_IMAGES = min(100, max(1, (N_IMAGES or 10000) // 10))  # first images with a second seed: Monte Carlo noise
MPRT_IMAGES = NOISE_IMAGES  # the first images explained on the fully randomised model too: eMPRT
CHUNK = 25 if exp.profile.name != "tiny" else 3  # images per stored chunk
SEED = exp.profile.seed  # seed of the image choice, the masks, SmoothGrad's noise and the metrics' draws
RESUME = False  # True: continue the run stored in OUT (same settings), skipping its finished chunks
OUT = exp.run_dir / "evaluation"  # results folder

print("primary metric, declared before the run:", evaluation.PRIMARY_METRIC)

# %% The test images: a seeded random choice, explained and measured for their true class
ids = np.arange(len(exp.x_test)) if N_IMAGES is None else np.sort(
    np.random.default_rng(SEED).permutation(len(exp.x_test))[:N_IMAGES])
images_std = exp.standardizer.transform(exp.x_test[ids])
labels = exp.y_test[ids].astype(np.int64)

# %% Explain and measure, chunk by chunk (progress shows images done, rate and time left)
store = evaluation.evaluate_maps(
    exp.model, images_std, labels, OUT, image_ids=ids, seed=SEED, resume=RESUME, chunk_size=CHUNK,
    noise_images=NOISE_IMAGES, mprt_images=MPRT_IMAGES,
    drise_options={"n_masks": N_MASKS, "sampling": SAMPLING, "target_stability": TARGET_STABILITY,
                   "grid_size": GRID_SIZE, "batch_size": MASK_BATCH},
)

# %% The answer: rankings with intervals, paired tests, letters and the noise floor (CSV, markdown, figure)
written = evaluation.write_report(OUT)
print(open(written["report"], encoding="utf-8").read())

# %% The primary metric's ranking as a figure (intervals over images, Monte Carlo noise band, letters)
with open(written[f"ranking_{evaluation.PRIMARY_METRIC}"], encoding="utf-8") as stream:
    rows = list(csv.DictReader(stream))
fig = plotting.ranking_figure(rows, title=f"{evaluation.PRIMARY_METRIC} on {len(ids)} test images")
plotting.save(fig, exp.figures_dir / "11_ranking_road_gap.png")
plt.show()
