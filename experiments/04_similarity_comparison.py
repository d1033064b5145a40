"""04 - Which similarity score should weight the D-RISE masks? Every registered score x every aggregation.

D-RISE weights each random mask by a similarity score between the model's output on the masked image and a
target: the thesis used the cosine similarity to the one-hot true label and proposed cross-entropy; probability,
margin, KL, ... are registered too, and a custom score is added below in a few lines. The weighted sum of the masks
becomes the map under an aggregation: none (the raw sum, the thesis), np (divided by N*p, RISE), coverage (divided
per pixel by how many masks kept it) or debiased (minus the mean score times the per-pixel mask sum).

On the first K test images (the profile's k_compare: 50 on the thesis profile, 3 on quick), explained for their
true class, every score x aggregation comes from ONE set of forward passes (DRise.explain_scores); then the
deletion / insertion AUC of every variant (mean and 95% interval, printed and written as CSV), a grid of maps
(images x scores), the AUC bars per aggregation and the pairwise agreement (Spearman rank correlation, top-10%
overlap). Every map also gets its estimated two-seed agreement (return_stability=True): the noise floor, drawn on the
agreement heatmap's diagonal, that any agreement between two variants must be read against. Every variant runs to
the profile's declared stability (TARGET_STABILITY, 0.9: rounds of N_MASKS masks until the map's estimated
two-seed Spearman reaches it, at most MAX_MASKS; a grid panel that stopped at the cap says so); set it to None for a
fixed N.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/04_similarity_comparison.py``.
"""
# %% Set-up: backend, profile, paths, test data and the trained run (see drise_tf/experiment.py)
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from drise_tf import AGGREGATIONS, CLASS_NAMES, DRise, metrics, plotting, setup, similarity

exp = setup(__file__)

# %% Parameters
K_IMAGES = exp.profile.k_compare  # the first K test images, explained for their TRUE class (thesis: 50, quick: 3)
N_MASKS = exp.profile.compare_masks  # masks per map (thesis profile: 2000, quick: 1000); with
# TARGET_STABILITY the masks per round
GRID_SIZE = exp.profile.grid_size  # mask grid cells per side (thesis: 16)
UPSAMPLE = "nearest"  # grid to image: "nearest" (the thesis's binary masks) or "bilinear" (RISE's smooth masks)
P_KEEP = exp.profile.p  # probability that a grid cell is kept (thesis: 0.5)
MASK_BATCH = exp.profile.mask_batch  # masked images per forward pass (thesis: 100)
PRECISION = exp.profile.precision  # forward passes in "float32" (thesis) or "bfloat16"
SEED = exp.profile.seed  # seed of the masks: same seed, same masks, same maps
SIMILARITIES = None  # None: every registered score (including the custom one below); or a list of names
AGGREGATIONS_COMPARED = AGGREGATIONS  # ("none", "np", "coverage", "debiased"); the thesis: "none"
GRID_AGGREGATION = "none"  # aggregation of the maps drawn in the grid and the agreement figures (thesis: "none")
GRID_IMAGES = 6  # rows of the grid
STEP = None  # pixels per deletion / insertion step (None: H*W/32, i.e. 32 on 32x32)
SAMPLING = "antithetic_sobol"  # mask design: "iid" (thesis), "antithetic", "sobol", "latin" or "antithetic_sobol"
TARGET_STABILITY = exp.profile.compare_stability  # 0.9: masks per image until each variant's two-seed Spearman
# reaches it (N_MASKS per round); None: exactly N_MASKS masks (maps another seed would not reproduce)
MAX_MASKS = exp.profile.compare_max_masks  # most masks per image with TARGET_STABILITY (40,000)


# %% A custom similarity score: register it, and every comparison below includes it
@similarity.register("log_odds", description="log-odds of the target class, log p_t - log(1 - p_t)",
                     higher_is_kept=True, overwrite=True)  # overwrite: re-running the cell replaces it
def log_odds(probs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    p_target = tf.clip_by_value(tf.reduce_sum(probs * target, axis=-1), 1e-6, 1.0 - 1e-6)  # float32 may exceed 1
    return tf.math.log(p_target) - tf.math.log(1.0 - p_target)


print("registered scores:", similarity.available())

# %% The first K test images and their true classes
images = exp.x_test[:K_IMAGES]
labels = exp.y_test[:K_IMAGES]
images_std = exp.standardizer.transform(images)  # the model's input: per-channel standardised images

# %% D-RISE maps under every score and aggregation: one set of masks and forward passes serves them all
drise = DRise(exp.model, n_masks=N_MASKS, grid_size=GRID_SIZE, p=P_KEEP, upsample=UPSAMPLE, batch_size=MASK_BATCH,
              precision=PRECISION, seed=SEED, sampling=SAMPLING, target_stability=TARGET_STABILITY,
              max_masks=MAX_MASKS, progress=TARGET_STABILITY is not None)
maps, stability = drise.explain_scores(images_std, labels, similarities=SIMILARITIES,
                                       aggregations=AGGREGATIONS_COMPARED, return_stability=True)
# maps: "<score>/<aggregation>" -> (K, 32, 32), e.g. maps["cosine/none"] is the thesis's map
# stability: "<score>/<aggregation>" -> (K,) estimated two-seed Spearman; drise.masks_used: masks per image
print(f"masks per image: {np.unique(drise.masks_used).tolist()}")
for name, values in stability.items():
    print(f"  {name:28s} two-seed Spearman: median {np.median(values):.2f} (min {values.min():.2f})")

# %% Faithfulness of every variant (deletion / insertion AUC per image) and the agreement between them
comparison = metrics.compare(exp.model, images_std, maps, step=STEP, stability=stability,
                             masks_used={name: drise.masks_used for name in maps})
print(comparison.format())
print("CSV:", comparison.write_csv(exp.figures_dir / "similarity_auc.csv"))

# %% Grid: the first images (rows) under each score (columns), one aggregation, each map with its two-seed Spearman
shown = min(GRID_IMAGES, len(images))
chosen = {name.split("/")[0]: variant for name, variant in maps.items() if name.endswith("/" + GRID_AGGREGATION)}
row_labels = [f"#{i} {CLASS_NAMES[c]}" for i, c in enumerate(labels[:shown])]
fig = plotting.saliency_grid(images[:shown], {name: variant[:shown] for name, variant in chosen.items()},
                             row_labels=row_labels,
                             title=f"D-RISE maps per similarity score (aggregation {GRID_AGGREGATION!r})",
                             stability={name: stability[f"{name}/{GRID_AGGREGATION}"][:shown] for name in chosen},
                             capped={name: stability[f"{name}/{GRID_AGGREGATION}"][:shown] < TARGET_STABILITY
                                     for name in chosen} if TARGET_STABILITY else None)
plotting.save(fig, exp.figures_dir / "similarity_grid.png", close=not exp.keep_open)

# %% Deletion (lower is better) and insertion (higher is better) AUC per score, one figure per aggregation
table = comparison.table()
for aggregation in AGGREGATIONS_COMPARED:
    rows = [{**row, "name": row["name"].split("/")[0]} for row in table if row["name"].endswith("/" + aggregation)]
    fig = plotting.metric_bars(rows, metric=["deletion_auc", "insertion_auc"], ylabel="AUC (mean, 95% interval)",
                               title=f"Similarity scores, aggregation {aggregation!r}: AUC over {len(images)} images")
    plotting.save(fig, exp.figures_dir / f"similarity_auc_{aggregation}.png", close=not exp.keep_open)

# %% Agreement between scores (one aggregation): mean Spearman rank correlation and top-10% overlap
names, matrix = comparison.agreement
keep = [i for i, name in enumerate(names) if name.endswith("/" + GRID_AGGREGATION)]
fig = plotting.agreement_heatmap(list(chosen), matrix[np.ix_(keep, keep)],
                                 title=f"Similarity scores ({GRID_AGGREGATION!r}): mean Spearman rank correlation\n"
                                       "(diagonal: two-seed agreement, the noise floor)")
plotting.save(fig, exp.figures_dir / "similarity_agreement.png", close=not exp.keep_open)
overlap_names, overlap = metrics.agreement_matrix(chosen, metric="topk", fraction=0.1)
fig = plotting.agreement_heatmap(overlap_names, overlap,
                                 title=f"Similarity scores ({GRID_AGGREGATION!r}): mean top-10% overlap")
plotting.save(fig, exp.figures_dir / "similarity_topk_overlap.png", close=not exp.keep_open)
np.savetxt(exp.figures_dir / "similarity_agreement_all.csv", matrix, delimiter=",", fmt="%.4f",
           header=",".join(names), comments="")  # every score x aggregation pair

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
