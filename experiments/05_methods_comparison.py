"""05 - D-RISE against RISE, Saliency, SmoothGrad, Grad-CAM, Grad-CAM++ and Faster-Score-CAM, and a sanity check.

On the first K test images (the profile's k_compare: 50 on the thesis profile, 3 on quick): the maps of every method
for the true class, their deletion / insertion AUC (mean and 95% interval, printed and written as CSV), a grid of
maps, the AUC bars and the pairwise rank agreement; then the cascading model-randomisation check of Adebayo et al.
on the model's stages from the top down (a map that survives randomised weights does not explain the model).
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/05_methods_comparison.py``.
"""
# %% Set-up: backend, profile, paths, test data and the trained run (see drise_tf/experiment.py)
import matplotlib.pyplot as plt

from drise_tf import CLASS_NAMES, evaluation, make_explainer, metrics, plotting, setup

exp = setup(__file__)

# %% Parameters
K_IMAGES = exp.profile.k_compare  # the first K test images, explained for their TRUE class (thesis: 50, quick: 3)
N_MASKS = exp.profile.compare_masks  # masks per D-RISE / RISE map (thesis profile: 2000, quick: 1000); with
# TARGET_STABILITY the masks per round
GRID_SIZE = exp.profile.grid_size  # D-RISE mask grid cells per side (thesis: 16)
P_KEEP = exp.profile.p  # probability that a D-RISE grid cell is kept (thesis: 0.5)
MASK_BATCH = exp.profile.mask_batch  # masked images per forward pass (thesis: 100)
PRECISION = exp.profile.precision  # forward passes in "float32" (thesis) or "bfloat16"
SEED = exp.profile.seed  # seed of every random method (masks, SmoothGrad noise): same seed, same maps
TARGET_STABILITY = exp.profile.compare_stability  # 0.9: every D-RISE / RISE map draws rounds of N_MASKS masks until
# its estimated two-seed Spearman reaches it; None: exactly N_MASKS masks (maps another seed would not reproduce)
MAX_MASKS = exp.profile.compare_max_masks  # most masks per map with TARGET_STABILITY (40,000)
MASKING = {"n_masks": N_MASKS, "batch_size": MASK_BATCH, "precision": PRECISION, "seed": SEED,  # D-RISE and RISE
           "sampling": "antithetic_sobol", "target_stability": TARGET_STABILITY, "max_masks": MAX_MASKS}
DRISE_MASKS = {"grid_size": GRID_SIZE, "p": P_KEEP}  # the D-RISE rows' mask design; RISE keeps its own
# display name -> (explainer name, its options): evaluation.DEFAULT_METHODS with the masks and seeds set here.
# More explainers: drise_tf.available_explainers() (e.g. "guided_backprop", "scorecam").
METHODS = {
    "D-RISE cosine (thesis)": ("drise", {**MASKING, **DRISE_MASKS, "similarity": "cosine", "aggregation": "none"}),
    "D-RISE probability": ("drise", {**MASKING, **DRISE_MASKS, "similarity": "probability",
                                     "aggregation": "debiased"}),
    # the design sweep's choice (docs/design-sweep.md): DRise's default design, 12x12 bilinear, p 0.5, probability
    "D-RISE recommended": ("drise", MASKING),
    "RISE": ("rise", MASKING),  # RISE's own 7x7 bilinear masks, weighted by the class probability, divided by N*p
    "Saliency": ("saliency", {}),
    "SmoothGrad": ("smoothgrad", {"seed": SEED}),
    "Grad-CAM": ("gradcam", {}),  # CAMs explain the last convolutional block unless given layer=...
    "Grad-CAM++": ("gradcam++", {}),
    "Faster-Score-CAM": ("faster_scorecam", {}),
}
GRID_IMAGES = 6  # rows of the grid
STEP = None  # pixels per deletion / insertion step (None: H*W/32)
K_SANITY = exp.profile.k_sanity  # images of the randomisation check (thesis profile: 8, quick: 4)
N_CASCADE_STEPS = None  # randomise this many stages (metrics.layer_groups), from the top down; None: all
# methods checked (each is recomputed once per randomised stage), the masking ones at a fixed N_MASKS: a randomised
# model's maps need not ever reach the declared stability
SANITY_METHODS = {name: (method, {key: value for key, value in options.items() if key != "target_stability"})
                  for name, (method, options) in METHODS.items()}

# %% The first K test images and their true classes
images = exp.x_test[:K_IMAGES]
labels = exp.y_test[:K_IMAGES]
images_std = exp.standardizer.transform(images)  # the model's input: per-channel standardised images

# %% The maps of every method, for the true class (named with their design where it differs from the method's preset,
# e.g. "RISE 16x16")
maps, stability = {}, {}
for name, (method, options) in METHODS.items():
    name = evaluation.method_label(name, method, options)
    explainer = make_explainer(method, exp.model, **options)
    if method in ("drise", "rise"):  # Monte Carlo maps: each with its estimated two-seed Spearman
        maps[name], stability[name] = explainer.explain(images_std, labels, return_stability=True)
    else:
        maps[name] = explainer.explain(images_std, labels)
    print(f"[compare] {name}: done", flush=True)

# %% Faithfulness of every method (deletion / insertion AUC per image) and the agreement between them
comparison = metrics.compare(exp.model, images_std, maps, step=STEP)
print(comparison.format())
print("CSV:", comparison.write_csv(exp.figures_dir / "methods_auc.csv"))

# %% Grid: the first images (rows) under each method (columns)
shown = min(GRID_IMAGES, len(images))
row_labels = [f"#{i} {CLASS_NAMES[c]}" for i, c in enumerate(labels[:shown])]
fig = plotting.saliency_grid(images[:shown], {name: method_maps[:shown] for name, method_maps in maps.items()},
                             row_labels=row_labels, title="Saliency methods",
                             stability={name: values[:shown] for name, values in stability.items()},
                             capped={name: values[:shown] < TARGET_STABILITY for name, values in stability.items()}
                             if TARGET_STABILITY else None)
plotting.save(fig, exp.figures_dir / "methods_grid.png", close=not exp.keep_open)

# %% Deletion (lower is better) and insertion (higher is better) AUC per method
fig = plotting.metric_bars(comparison.table(), metric=["deletion_auc", "insertion_auc"],
                           title=f"Methods: deletion / insertion AUC over {len(images)} test images",
                           ylabel="AUC (mean, 95% interval)")
plotting.save(fig, exp.figures_dir / "methods_auc.png", close=not exp.keep_open)

# %% Agreement: mean Spearman rank correlation between every pair of methods
names, matrix = comparison.agreement
fig = plotting.agreement_heatmap(names, matrix, title="Methods: mean Spearman rank correlation")
plotting.save(fig, exp.figures_dir / "methods_agreement.png", close=not exp.keep_open)

# %% Sanity check: randomise the model's stages one after another, top first, and compare each method's maps with
# the trained model's (Spearman correlation per image, averaged)
cascade = metrics.layer_groups(exp.model)[:N_CASCADE_STEPS]  # one step per stage (stage4, stage3, ...)
rows = evaluation.sanity_check(exp.model, images_std[:K_SANITY], labels[:K_SANITY], methods=SANITY_METHODS,
                               layers=cascade, seed=SEED)
print(f"{'method':28s}" + "".join(f"{row['layer'] or 'original'!s:>14s}" for row in next(iter(rows.values()))))
for name, method_rows in rows.items():
    print(f"{name:28s}" + "".join(f"{row['spearman']:14.3f}" for row in method_rows))
fig = plotting.randomization_figure(rows, title="Cascading randomisation: Spearman correlation with the trained maps")
plotting.save(fig, exp.figures_dir / "methods_sanity_check.png", close=not exp.keep_open)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
