"""12 - Why does RISE beat D-RISE? Score, grid, upsampling and smoothness, separated on the same images.

RISE's coarse 7x7 bilinear masks beat D-RISE's 16x16 nearest masks on ROAD. Two explanations compete: RISE's masks
carry more information about the model, or ROAD rewards smooth maps (Song, Cha and Seo 2023) and RISE's maps are
smooth by construction. This script runs the mask-design factorial declared in drise_tf/evaluation/run.py before any
run: D-RISE on the grids 7x7 and 16x16, each upsampled nearest and bilinear, scored by the thesis's cosine and by
RISE's probability from the same forward passes, at equal N, beside RISE itself; every map is also measured after
the smoothing control (a Gaussian as wide as RISE's own upsampling kernel). The report gives the main effects and
two-factor interactions (paired, Holm-corrected, with their Monte Carlo noise) and splits RISE's lead over the
thesis's D-RISE step by step, raw and smoothed.

It calls what ``python -m drise_tf evaluate-maps --designs factorial --similarities cosine probability`` calls, with
the same settings (it prints the command): either one resumes a run of the other.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/12_mask_design_factorial.py``.
"""
# %% Set-up: backend, profile and paths (see drise_tf/experiment.py); the evaluation loads the run and the test set
import shlex
import sys

from drise_tf import evaluation, setup

exp = setup(__file__, load_data=False, load_model=False)

# %% Parameters
N_IMAGES = 300 if exp.profile.name != "tiny" else 4  # test images, a seeded random choice
N_MASKS = exp.profile.evaluate_masks  # masks per map and design, the same for every design (2000 antithetic)
SAMPLING = "antithetic"
PRECISION = "float32"  # forward passes of masks and metrics: "bfloat16" is ~4x faster on AVX512-BF16 / AMX CPUs
SIMILARITIES = ["cosine", "probability"]  # the thesis's score and RISE's, from the same forward passes
DESIGNS = evaluation.FACTORIAL_DESIGNS  # grid 7x7 / 16x16 x upsampling nearest / bilinear
NOISE_IMAGES = 100 if exp.profile.name != "tiny" else 2  # first images with a second mask seed: Monte Carlo noise
MPRT_IMAGES = 0  # the randomisation check is not this question
CHUNK = 25 if exp.profile.name != "tiny" else 2  # images per stored chunk
SEED = exp.profile.seed
RESUME = False  # True: continue the run stored in OUT (same settings), skipping its finished chunks
OUT = exp.run_dir / "evaluation-factorial"

print("primary metric, declared before the run:", evaluation.PRIMARY_METRIC)
print("smoothing control: Gaussian sigma", round(evaluation.smoothing_sigma(32), 3), "pixels on 32x32 images")
command = [sys.executable, "-m", "drise_tf", "evaluate-maps", "--run", str(exp.run_dir), "--out", str(OUT),
           "--images", str(N_IMAGES), "--n-masks", str(N_MASKS), "--sampling", SAMPLING, "--precision", PRECISION,
           "--designs", "factorial",
           "--similarities", *SIMILARITIES, "--noise-images", str(NOISE_IMAGES), "--mprt-images", str(MPRT_IMAGES),
           "--chunk-size", str(CHUNK), "--seed", str(SEED), *([] if exp.data is None else ["--data", exp.data])]
print("the same run from a terminal (add --resume to continue it):", shlex.join(command))

# %% Explain and measure: every design x score, RISE and the other methods, raw and smoothed, chunk by chunk
written = evaluation.evaluate_run_maps(
    exp.run_dir, data=exp.data, images=N_IMAGES, out=OUT, seed=SEED, resume=RESUME, chunk_size=CHUNK,
    noise_images=NOISE_IMAGES, mprt_images=MPRT_IMAGES, similarities=SIMILARITIES, designs=DESIGNS,
    drise_options={"n_masks": N_MASKS, "sampling": SAMPLING, "precision": PRECISION, "target_stability": None,
                   "max_masks": None},
)

# %% The answer: main effects and interactions, and RISE's lead split step by step (raw and smoothed)
factorial = evaluation.write_factorial(OUT)
print(factorial["text"])
