"""03 - The thesis's D-RISE maps (thesis figure 4): 5 cats classified as cat, 5 cats classified as dog.

The thesis's D-RISE: N random masks on a 16x16 grid (each cell kept with probability p = 0.5, upsampled nearest
and shifted by up to 2 pixels), each masked image scored by the cosine similarity of the model's output to the
one-hot TRUE label, and the map = the raw weighted sum of the masks (no normalisation). N is the profile's: 5000 on
the thesis and quick profiles, 40 on the tests' tiny profile.

For each selected test image (the first K of each group, in test-set order): the 3D surface of the raw weighted
sum with planes at 0.1*N*p and N*p (its scale), the "Original Image" / "Saliency Map" overlay figure, and the
map's uncertainty figure (its standard error and how reliably each pixel is in its most salient region). The
prediction entropy (bits) of each image is printed, as the thesis computed it. The class pair is configurable.
Each map is a Monte Carlo estimate: its stability (the Spearman agreement expected between two runs with different
mask seeds, estimated from the masks it used) is printed and written to the figure index. A last cell draws the same
maps with antithetic masks and stops each one at a stability target instead of a fixed N; another explains an image
file (any PNG or JPEG) as the command ``drise-tf explain`` does.
Needs the run of ``01_train_thesis_model.py``. Run in Spyder or as ``python experiments/03_thesis_drise_maps.py``.
"""
# %% Set-up: backend, profile, paths, test data and the trained run (see drise_tf/experiment.py)
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from drise_tf import (
    CLASS_NAMES,
    DRise,
    FigureBook,
    explain_image_files,
    plotting,
    predict_probs,
    prediction_entropy,
    select_images,
    setup,
)

exp = setup(__file__)

# %% Parameters
TRUE_CLASS = CLASS_NAMES.index("cat")  # images of this class ...
PAIR_CLASS = CLASS_NAMES.index("dog")  # ... classified as itself, and as this class
K_IMAGES = exp.profile.k_images  # images per group (thesis: 5)
N_MASKS = exp.profile.n_masks  # random masks N (thesis: 5000)
GRID_SIZE = exp.profile.grid_size  # mask grid cells per side (thesis: 16)
P_KEEP = exp.profile.p  # probability that a grid cell is kept (thesis: 0.5)
MASK_BATCH = exp.profile.mask_batch  # masked images per forward pass (thesis: 100)
PRECISION = exp.profile.precision  # forward passes in "float32" (thesis) or "bfloat16"
SEED = exp.profile.seed  # seed of the masks (the thesis set none)
SAMPLING = "antithetic"  # mask design of the last cell: "iid" (thesis), "antithetic", "sobol", "latin", ...
# or "antithetic_sobol"
TOP_FRACTION = 0.1  # uncertainty figures: the map's most salient region, a fraction of the pixels
TARGET_STABILITY = 0.9  # last cell: draw masks until each map's estimated two-seed Spearman reaches this

# %% Choose the images: the first K test images of TRUE_CLASS classified as TRUE_CLASS, and as PAIR_CLASS
images_std = exp.standardizer.transform(exp.x_test)  # the model's input: per-channel standardised images
probs = predict_probs(exp.model, images_std)
predicted = probs.argmax(axis=1)
true_name, pair_name = CLASS_NAMES[TRUE_CLASS], CLASS_NAMES[PAIR_CLASS]
groups = {
    f"{true_name}_as_{true_name}": select_images(exp.y_test, predicted, true_class=TRUE_CLASS,
                                                 predicted_class=TRUE_CLASS, k=K_IMAGES),
    f"{true_name}_as_{pair_name}": select_images(exp.y_test, predicted, true_class=TRUE_CLASS,
                                                 predicted_class=PAIR_CLASS, k=K_IMAGES),
}
for group, members in groups.items():
    print(f"{group}: test images {members.tolist()}")
indices = np.concatenate(list(groups.values()))
if indices.size == 0:
    raise SystemExit("no test image matches the class pair: choose other classes or search more test images")

# %% D-RISE as in the thesis: the raw weighted sum of the masks, explained for the TRUE class
drise = DRise.thesis(exp.model, n_masks=N_MASKS, grid_size=GRID_SIZE, p=P_KEEP, batch_size=MASK_BATCH,
                     precision=PRECISION, seed=SEED, progress=True)
maps, stability = drise.explain(images_std[indices], exp.y_test[indices], return_stability=True)
# stability: each map's estimated two-seed Spearman (B,); drise.standard_error: the per-pixel standard error (B, H, W);
# drise.replica_maps: the independent replica maps (B, R, H, W) that both come from

# %% Prediction entropy (bits) and the scale of each raw map (the thesis computed the entropy and did not use it)
entropy = prediction_entropy(probs[indices])
for index, bits, weighted_sum, agreement in zip(indices, entropy, maps, stability):
    print(f"  #{int(index):5d}  p={probs[index].max():.3f}  entropy {bits:.3f} bits   "
          f"map min {weighted_sum.min():9.2f}  max {weighted_sum.max():9.2f}  (N*p = {N_MASKS * P_KEEP:g})   "
          f"two-seed Spearman {agreement:.2f}")

# %% Thesis figure 4 per image: the 3D surface of the raw map and the overlay (files 04_<group>_<rank>_*.png)
names = [f"{group}_{rank + 1}" for group, members in groups.items() for rank in range(len(members))]
labels = [f"test #{index}: true {CLASS_NAMES[exp.y_test[index]]}, predicted {CLASS_NAMES[predicted[index]]}"
          for index in indices]
book = FigureBook(exp.figures_dir, "python experiments/03_thesis_drise_maps.py",
                  {"profile": exp.profile.name, "true_class": TRUE_CLASS, "pair_class": PAIR_CLASS,
                   "k_images": K_IMAGES, "n_masks": N_MASKS, "grid_size": GRID_SIZE, "p": P_KEEP, "seed": SEED},
                  keep_open=exp.keep_open)
plotting.thesis_map_figures(book, exp.x_test[indices], maps, names, labels, n_masks=N_MASKS, p=P_KEEP,
                            stability=stability)

# %% The Monte Carlo error of each map, from the masks already drawn (no extra forward pass): the map, its per-pixel
# standard error, and how often each pixel is in the top TOP_FRACTION of the independent mask replicas (white
# outline: the map's own top region). A hot spot that is yellow in the last panel survives another mask seed.
for row, name in enumerate(names):
    fig = plotting.uncertainty_figure(exp.x_test[indices[row : row + 1]], maps[row : row + 1],
                                      drise.replica_maps[row : row + 1],
                                      standard_error=drise.standard_error[row : row + 1], top_fraction=TOP_FRACTION,
                                      title=f"{labels[row]}; two-seed Spearman {stability[row]:.2f}")
    book.add(fig, f"04_{name}_uncertainty", f"{labels[row]}: the map, its standard error and its top-region "
                                            f"frequency over {drise.replicas} mask replicas.")
print("index:", book.write_index())

# %% The same estimator on a variance-reduced mask design, each map stopped at TARGET_STABILITY
stable = DRise.thesis(exp.model, n_masks=N_MASKS, grid_size=GRID_SIZE, p=P_KEEP, batch_size=MASK_BATCH,
                      precision=PRECISION, seed=SEED, sampling=SAMPLING, target_stability=TARGET_STABILITY,
                      max_masks=8 * N_MASKS, progress=True)
stable_maps, stable_stability = stable.explain(images_std[indices], exp.y_test[indices], return_stability=True)
for index, used, agreement in zip(indices, stable.masks_used, stable_stability):
    print(f"  #{int(index):5d}  {SAMPLING} masks: {used:6d} used, two-seed Spearman {agreement:.2f}")
fig = plotting.saliency_grid(exp.x_test[indices], {"thesis (iid)": maps, f"{SAMPLING}, stopped": stable_maps},
                             title=f"Thesis D-RISE: N = {N_MASKS} iid masks vs {SAMPLING} masks to stability "
                                   f"{TARGET_STABILITY}")
plotting.save(fig, exp.figures_dir / "thesis_maps_stable.png", close=not exp.keep_open)

# %% Explain an image file, as `drise-tf explain --run RUN FILE --out FOLDER` does: any PNG or JPEG (here the first
# selected test image, written as a PNG) is read as the model's input (RGB, resized bicubic to the model's size,
# standardised with the run's standardizer) and explained by D-RISE with its own default design, masks drawn until
# the map's stability reaches TARGET_STABILITY; the overlay, uncertainty figure, map (.npy) and a CSV go to the folder
image_file = exp.figures_dir / "image_files" / "test_image.png"
image_file.parent.mkdir(parents=True, exist_ok=True)
Image.fromarray(exp.x_test[indices[0]]).save(image_file)
explained = explain_image_files(exp.run_dir, [image_file], exp.figures_dir / "image_files" / "explained",
                                target_stability=TARGET_STABILITY, max_masks=8 * N_MASKS, n_masks=N_MASKS, seed=SEED)

# %% Show the figures (a window when run as a script with a display; Spyder shows them by itself)
if exp.keep_open:
    plt.show()
