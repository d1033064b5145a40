"""Every figure function runs headless on tiny inputs, writes a non-empty PNG, and keeps the thesis styling."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from drise_tf.plotting import figures as plots

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
MAPS = RNG.random((3, 8, 8))


def written(fig, tmp_path, name="figure.png") -> Figure:
    assert isinstance(fig, Figure)
    path = plots.save(fig, tmp_path / "sub" / name)
    with open(path, "rb") as stream:
        assert stream.read(8) == b"\x89PNG\r\n\x1a\n"
    return fig


def assert_texts_fit(fig) -> None:
    """Everything ``fig`` draws (titles, labels, tick labels, annotations, legends) lies inside the figure."""
    fig.canvas.draw()
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
    width, height = fig.get_size_inches()
    assert drawn.x0 >= -0.01 and drawn.y0 >= -0.01 and drawn.x1 <= width + 0.01 and drawn.y1 <= height + 0.01, (
        f"drawn {drawn.bounds} beyond the figure ({width} x {height} in)")


def history(epochs=3):
    return {"epoch": list(range(epochs + 1)), "loss": [2.0, 1.5, 1.2, 1.0], "accuracy": [0.1, 0.4, 0.5, 0.6],
            "val_loss": [2.1, 1.6, 1.4, 1.3], "val_accuracy": [0.1, 0.35, 0.45, 0.5]}


def test_learning_curves_thesis_style(tmp_path):
    loss_fig, acc_fig = plots.learning_curves(history())
    for fig, title, legend_loc, ylabel in ((loss_fig, plots.LOSS_TITLE, 1, "Loss"),
                                           (acc_fig, plots.ACCURACY_TITLE, 4, "Accuracy")):
        written(fig, tmp_path, f"{ylabel}.png")
        ax = fig.axes[0]
        assert tuple(fig.get_size_inches()) == (6, 4)
        assert ax.get_title() == title
        assert ax.get_xlabel() == "Epoch" and ax.get_ylabel() == ylabel
        train, val = ax.get_lines()
        assert list(train.get_xdata()) == [0, 1, 2, 3]
        assert to_rgba(train.get_color()) == to_rgba("b") and train.get_linestyle() == "-"
        assert to_rgba(val.get_color()) == to_rgba("r") and val.get_linestyle() == "--"
        assert ax.get_legend()._loc == legend_loc  # 1 = upper right, 4 = lower right
    assert loss_fig.axes[0].get_title() == "Training and Validation Loss"
    assert acc_fig.axes[0].get_title() == "Training and Validation Accuracy"


def test_learning_curves_bad_history():
    with pytest.raises(ValueError, match="val_accuracy"):
        plots.learning_curves({"loss": [1], "accuracy": [1], "val_loss": [1]})
    bad = history()
    bad["val_loss"] = bad["val_loss"][:2]
    with pytest.raises(ValueError, match="val_loss"):
        plots.learning_curves(bad)


def test_confusion_matrix_thesis_style(tmp_path):
    cm = np.arange(100).reshape(10, 10)
    fig = written(plots.confusion_matrix_figure(cm, CLASSES), tmp_path)
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == (10, 8)
    assert ax.get_title() == "Confusion Matrix"
    assert ax.get_xlabel() == "Predicted labels" and ax.get_ylabel() == "True labels"
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES
    annotations = [t.get_text() for t in ax.texts]
    assert annotations[:3] == ["0", "1", "2"] and "99" in annotations
    assert ax.collections[0].get_cmap().name == "Blues"


def test_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match="square"):
        plots.confusion_matrix_figure(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="class_names"):
        plots.confusion_matrix_figure(np.zeros((2, 2)), ["a"])
    with pytest.raises(ValueError, match="integer counts"):
        plots.confusion_matrix_figure(np.full((2, 2), 0.5), ["a", "b"])


def _heights(surface) -> np.ndarray:
    """z of the vertices of a 3-D surface (matplotlib keeps them as ``_faces`` from 3.9 on, ``_vec`` before)."""
    faces = getattr(surface, "_faces", None)
    return np.asarray(faces)[..., 2] if faces is not None else np.asarray(surface._vec[2])


def test_surface_figure_is_the_thesis_figure(tmp_path):
    weighted = RNG.random((8, 8)) * 3000
    fig = written(plots.surface_figure(weighted, n_masks=5000, p=0.5), tmp_path)
    ax, colorbar = fig.axes
    assert tuple(fig.get_size_inches()) == tuple(matplotlib.rcParamsDefault["figure.figsize"])  # default size
    assert ax.get_title() == "3D Surface Visualization of w_norm Matrix"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("X Index", "Y Index", "Value")
    surface, low, high = ax.collections
    assert surface.get_cmap().name == "viridis"
    assert len(surface.get_edgecolor()) == 0 or surface.get_edgecolor()[0][3] == 0  # edgecolor='none'
    # the planes: blue at 0.1*N*p = 250, red at N*p = 2500, alpha 0.2
    assert _heights(low).min() == _heights(low).max() == pytest.approx(250)
    assert _heights(high).min() == _heights(high).max() == pytest.approx(2500)
    low_rgb, high_rgb = low.get_facecolor()[0][:3], high.get_facecolor()[0][:3]  # shaded: check the hue
    assert low_rgb[2] > 0 and low_rgb[0] == low_rgb[1] == 0
    assert high_rgb[0] > 0 and high_rgb[1] == high_rgb[2] == 0
    assert low.get_alpha() == high.get_alpha() == pytest.approx(0.2)
    # colorbar(surf, shrink=0.5, aspect=5): half the height of the plot's box, 5 times as tall as wide
    box, bar = ax.get_position(), colorbar.get_position()
    assert bar.height == pytest.approx(0.5 * box.height, rel=0.05)
    assert colorbar.get_box_aspect() == pytest.approx(5)


def test_score_planes_follow_the_score():
    assert plots.score_planes(5000, 0.5) == (250.0, 2500.0)  # the thesis's cosine planes
    scores = np.array([0.2, 2.5, 7.0])  # e.g. cross-entropy per mask
    assert plots.score_planes(1000, 0.5, scores) == (100.0, 3500.0)
    fig = plots.surface_figure(np.zeros((4, 4)), n_masks=1000, p=0.5, planes=plots.score_planes(1000, 0.5, scores))
    low, high = fig.axes[0].collections[1:]
    assert _heights(low).max() == pytest.approx(100) and _heights(high).max() == pytest.approx(3500)
    with pytest.raises(ValueError, match="finite per-mask scores"):
        plots.score_planes(10, 0.5, np.array([np.nan]))


@pytest.mark.parametrize("kwargs, match", [({"n_masks": 0, "p": 0.5}, "n_masks"), ({"n_masks": 5, "p": 0.0}, "p must"),
                                           ({"n_masks": 5, "p": 0.5, "planes": (0, np.inf)}, "planes")])
def test_surface_figure_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.surface_figure(np.zeros((4, 4)), **kwargs)


def test_overlay_figure_is_the_thesis_figure(tmp_path):
    fig = written(plots.overlay_figure(IMAGES[0], MAPS[0]), tmp_path)
    left, right, colorbar = fig.axes
    assert tuple(fig.get_size_inches()) == (8, 4)
    assert left.get_title() == "Original Image" and right.get_title() == "Saliency Map"
    assert fig._suptitle is None
    for ax in (left, right):  # axes with pixel ticks, as in the thesis
        assert ax.axison and len(ax.get_xticks()) > 0
    assert left.get_images()[0].get_interpolation() == "nearest"
    image, overlay = right.get_images()
    assert overlay.get_cmap().name == "jet" and overlay.get_alpha() == 0.5
    assert colorbar.get_position().height > colorbar.get_position().width  # vertical
    # the project's extras are options, off by default
    extra = written(plots.overlay_figure(IMAGES[0], MAPS[0], title="cat -> dog", hide_axes=True), tmp_path, "x.png")
    assert extra._suptitle.get_text() == "cat -> dog" and not extra.axes[0].axison
    # a map of another resolution is stretched over the image
    big = written(plots.overlay_figure(IMAGES[0], RNG.random((32, 32))), tmp_path, "big.png")
    assert big.axes[1].get_images()[1].get_extent() == [-0.5, 7.5, 7.5, -0.5]


def test_overlay_figure_bad_input():
    with pytest.raises(ValueError, match="image_uint8"):
        plots.overlay_figure(np.zeros((8, 8, 4), np.uint8), MAPS[0])
    with pytest.raises(ValueError, match="saliency"):
        plots.overlay_figure(IMAGES[0], MAPS)
    with pytest.raises(ValueError, match="NaN"):
        plots.overlay_figure(IMAGES[0], np.full((8, 8), np.nan))


def test_saliency_grid(tmp_path):
    maps = {"cosine": MAPS, "cross-entropy": -MAPS}
    fig = written(plots.saliency_grid(IMAGES, maps, row_labels=["a", "b", "c"], title="scores"), tmp_path)
    assert len(fig.axes) == 3 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["Image", "cosine", "cross-entropy"]
    assert fig.axes[1].get_images()[1].get_cmap().name == "jet"
    plain = written(plots.saliency_grid(IMAGES, maps, overlay=False), tmp_path, "plain.png")
    assert len(plain.axes[1].get_images()) == 1
    with pytest.raises(ValueError, match="maps\\['cosine'\\]"):
        plots.saliency_grid(IMAGES, {"cosine": MAPS[:2]})
    with pytest.raises(ValueError, match="row_labels"):
        plots.saliency_grid(IMAGES, maps, row_labels=["a"])


def test_saliency_grid_wraps_a_long_column_name_so_that_titles_do_not_overlap(tmp_path):
    maps = {"D-RISE cosine (thesis)": MAPS, "D-RISE recommended 12x12 bilinear": MAPS, "RISE": MAPS}
    fig = written(plots.saliency_grid(IMAGES, maps), tmp_path)
    assert [ax.get_title() for ax in fig.axes[1:4]] == ["D-RISE cosine (thesis)", "D-RISE recommended\n12x12 bilinear",
                                                        "RISE"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes[:4]]
    assert all(left.x1 <= right.x0 for left, right in zip(boxes, boxes[1:]))


def test_saliency_grid_gives_each_panel_its_two_seed_spearman(tmp_path):
    maps = {"D-RISE cosine": MAPS, "Grad-CAM": MAPS, "SmoothGrad": MAPS}
    stability = {"D-RISE cosine": [0.25, 0.5, np.nan], "Grad-CAM": np.ones(3)}  # SmoothGrad: unknown
    fig = written(plots.saliency_grid(IMAGES, maps, stability=stability, title="Methods: maps"), tmp_path)
    panels = np.array(fig.axes).reshape(3, 4)
    assert [[text.get_text() for text in ax.texts] for ax in panels[:, 1]] == [["two-seed ρ 0.25"],
                                                                             ["two-seed ρ 0.50"], []]
    assert all([text.get_text() for text in ax.texts] == ["two-seed ρ 1.00"] for ax in panels[:, 2])
    assert not any(ax.texts for ax in panels[:, 3])
    assert_texts_fit(fig)
    with pytest.raises(ValueError, match="stability\\['Grad-CAM'\\]"):
        plots.saliency_grid(IMAGES, maps, stability={"Grad-CAM": [1.0]})
    with pytest.raises(ValueError, match="stability\\['RISE'\\]"):
        plots.saliency_grid(IMAGES, maps, stability={"RISE": np.ones(3)})


def test_metric_bars_rows_and_dict(tmp_path):
    rows = [
        {"name": "cosine", "metric": "deletion_auc", "mean": 0.2, "low": 0.15, "high": 0.25, "n": 5},
        {"name": "cosine", "metric": "insertion_auc", "mean": 0.6, "low": 0.5, "high": 0.7, "n": 5},
        {"name": "ce", "metric": "deletion_auc", "mean": "0.3", "low": "0.2", "high": "0.4", "n": "5"},  # from CSV
        {"name": "ce", "metric": "insertion_auc", "mean": 0.5, "low": 0.45, "high": 0.55, "n": 5},
    ]
    fig = written(plots.metric_bars(rows, metric=["deletion_auc", "insertion_auc"]), tmp_path)
    ax = fig.axes[0]
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == pytest.approx([0.2, 0.3, 0.6, 0.5])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cosine", "ce"]
    # error bars span low..high
    segments = ax.collections[0].get_segments()
    assert [tuple(np.round(s[:, 1], 6)) for s in segments] == [(0.15, 0.25), (0.2, 0.4)]
    single = written(plots.metric_bars({"cosine": {"deletion_auc": (0.2, 0.1, 0.3)}}, metric="deletion_auc"),
                     tmp_path, "single.png")
    assert single.axes[0].get_ylabel() == "deletion_auc"
    with pytest.raises(ValueError, match="missing"):
        plots.metric_bars(rows, metric="pointing_game")
    with pytest.raises(ValueError, match="lacks"):
        plots.metric_bars([{"name": "a", "metric": "m", "mean": 1.0}], metric="m")


def test_agreement_heatmap(tmp_path):
    names = ["a", "b", "c"]
    matrix = np.array([[1.0, 0.5, -0.2], [0.5, 1.0, 0.1], [-0.2, 0.1, 1.0]])
    fig = written(plots.agreement_heatmap(names, matrix, title="Spearman"), tmp_path)
    ax = fig.axes[0]
    assert ax.get_title() == "Spearman"
    assert [t.get_text() for t in ax.texts][:3] == ["1.00", "0.50", "-0.20"]
    assert ax.collections[0].get_clim() == (-1.0, 1.0)
    with pytest.raises(ValueError, match="matrix must have shape"):
        plots.agreement_heatmap(names, np.eye(2), title="x")


def test_causal_curve_figure(tmp_path):
    curves = {"drise": np.linspace(1, 0, 5), "saliency": RNG.random((3, 5))}
    fig = written(plots.causal_curve_figure(curves, mode="deletion", aucs={"drise": 0.5}), tmp_path)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert lines[0].get_xdata().tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert lines[1].get_ydata() == pytest.approx(curves["saliency"].mean(axis=0))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["drise (AUC 0.500)", "saliency"]
    assert ax.get_xlabel() == "Fraction of pixels deleted"
    insertion = plots.causal_curve_figure(curves, mode="insertion", x=np.array([0, 0.1, 0.2, 0.6, 1.0]))
    assert written(insertion, tmp_path, "ins.png").axes[0].get_xlabel() == "Fraction of pixels inserted"
    with pytest.raises(ValueError, match="mode"):
        plots.causal_curve_figure(curves, mode="both")
    with pytest.raises(ValueError, match="x has shape"):
        plots.causal_curve_figure(curves, mode="deletion", x=np.zeros(3))


def test_randomization_figure(tmp_path):
    rows = [{"step": 0, "layer": None, "spearman": 1.0, "spearman_abs": 1.0},
            {"step": 1, "layer": "dense", "spearman": 0.4, "spearman_abs": 0.5},
            {"step": 2, "layer": "conv", "spearman": 0.1, "spearman_abs": 0.2}]
    fig = written(plots.randomization_figure({"saliency": rows, "drise": rows[:2] + [dict(rows[2], spearman=0.9)]}),
                  tmp_path)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["original", "dense", "conv"]
    assert ax.get_lines()[1].get_ydata().tolist() == [1.0, 0.4, 0.9]
    abs_fig = plots.randomization_figure({"saliency": rows}, key="spearman_abs")
    assert abs_fig.axes[0].get_lines()[0].get_ydata().tolist() == [1.0, 0.5, 0.2]
    with pytest.raises(ValueError, match="other layers"):
        plots.randomization_figure({"a": rows, "b": rows[:2]})
    with pytest.raises(ValueError, match="lack 'kendall'"):
        plots.randomization_figure({"a": rows}, key="kendall")


def test_randomization_figure_labels_a_range_of_layers_by_its_last_and_fits():
    ranges = [None, "predictions", "stage4_block2_bn2 .. stage4_block1_conv1", "stage1_block2_bn2 .. stem_conv"]
    rows = [{"step": k, "layer": layer, "spearman": 1.0 - 0.3 * k} for k, layer in enumerate(ranges)]
    fig = plots.randomization_figure({f"method {k} with a long name": rows for k in range(6)}, title="Cascading")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "original", "predictions", "stage4_block1_conv1", "stem_conv"]
    assert_texts_fit(fig)  # the legend beside the axes, not over the lines


def test_labelled_image_grid(tmp_path):
    titles = ["true: cat / pred: dog", "true: cat / pred: cat", "true: dog / pred: cat"]
    fig = written(plots.labelled_image_grid(IMAGES, titles, ncols=2, maps=MAPS, suptitle="Grad-CAM"), tmp_path)
    assert len(fig.axes) == 4  # 2x2, the last one empty
    assert [ax.get_title() for ax in fig.axes[:3]] == titles
    assert not fig.axes[3].axison and len(fig.axes[0].get_images()) == 2
    no_maps = written(plots.labelled_image_grid(IMAGES, titles), tmp_path, "plain.png")
    assert len(no_maps.axes) == 3 and len(no_maps.axes[0].get_images()) == 1
    with pytest.raises(ValueError, match="titles"):
        plots.labelled_image_grid(IMAGES, titles[:1])
    with pytest.raises(ValueError, match="ncols"):
        plots.labelled_image_grid(IMAGES, titles, ncols=0)


def test_accuracy_sweep_figure(tmp_path):
    eps = [0.0, 0.01, 0.03]
    fig = written(plots.accuracy_sweep_figure(eps, [0.9, 0.5, 0.1], xlabel="epsilon", title="FGSM"), tmp_path)
    ax = fig.axes[0]
    assert ax.get_title() == "FGSM" and ax.get_xlabel() == "epsilon" and ax.get_ylabel() == "Accuracy"
    assert ax.get_lines()[0].get_ydata().tolist() == [0.9, 0.5, 0.1]
    several = plots.accuracy_sweep_figure(eps, {"cnn": [0.9, 0.5, 0.1], "resnet": [0.8, 0.3, 0.0]},
                                          xlabel="epsilon", title="FGSM")
    assert len(written(several, tmp_path, "two.png").axes[0].get_lines()) == 2
    with pytest.raises(ValueError, match="accuracies"):
        plots.accuracy_sweep_figure(eps, [0.9], xlabel="epsilon", title="FGSM")


def test_save_creates_folder_and_keeps_figure_open(tmp_path):
    import matplotlib.pyplot as plt

    fig = plots.accuracy_sweep_figure([0, 1], [1, 0], xlabel="x", title="t")
    path = plots.save(fig, tmp_path / "a" / "b" / "fig.png")
    assert path.endswith("fig.png") and (tmp_path / "a" / "b" / "fig.png").stat().st_size > 0
    assert plt.fignum_exists(fig.number)
    plots.save(fig, tmp_path / "again.png", close=True)
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="path must end with .png"):
        plots.save(fig, tmp_path / "fig.jpg")


# ------------------------------------------------------------------------------------------ the uncertainty figure
def blind_and_patch_maps(seed: int = 1):
    """Two 16x16 images explained by D-RISE (400 masks, 8 replicas): a model that ignores the image (RISE's smooth
    masks, so its map is pure mask noise without ties), and one that looks only at the 4x4 patch rows 4:8, columns
    8:12 (the debiased map). Returns the images and, per model, (maps, replica_maps, standard_error)."""
    from toy_models import blind_model, patch_model

    from drise_tf.explain import DRise

    images = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    images[:, 4:8, 8:12, 0] = 1.0
    blind = DRise(blind_model(), n_masks=400, grid_size=4, upsample="bilinear", similarity="probability",
                  aggregation="np", sampling="iid", replicas=8, seed=seed, batch_size=200)
    patch = DRise(patch_model(size=16, rows=(4, 8), cols=(8, 12), weight=8.0), n_masks=400, grid_size=8,
                  upsample="nearest", similarity="probability", aggregation="debiased", sampling="iid", replicas=8,
                  seed=seed, batch_size=200)
    results = {}
    for name, explainer in (("blind", blind), ("patch", patch)):
        maps = explainer.explain(images, [3, 3])
        results[name] = (maps, explainer.replica_maps, explainer.standard_error)
    return images, results


@pytest.fixture(scope="module")
def explained():
    return blind_and_patch_maps()


def test_uncertainty_of_a_model_that_ignores_the_image_is_pure_noise(explained):
    from drise_tf.explain.stability import top_region_frequency

    _, results = explained
    maps, replica_maps, _ = results["blind"]
    frequency = top_region_frequency(replica_maps, 0.1)
    assert frequency.max() <= 0.75  # no pixel is in the top 10% of (nearly) every replica
    np.testing.assert_allclose(frequency.mean(axis=(1, 2)), 0.1, atol=0.01)
    assert maps.std() > 0  # a map that varies: mask noise, not a constant


def test_uncertainty_of_a_patch_model_keeps_the_patch(explained):
    from drise_tf.explain.stability import top_region_frequency

    _, results = explained
    maps, replica_maps, _ = results["patch"]
    frequency = top_region_frequency(replica_maps, 0.1)
    assert np.all(frequency[:, 5:7, 9:11] == 1.0)  # the patch's core: in the top 10% of every replica
    outside = np.ones((16, 16), bool)
    outside[3:9, 7:13] = False  # the patch and the pixels its masks' cells share
    assert frequency[:, outside].max() <= 0.75


def test_uncertainty_figure(explained, tmp_path):
    images, results = explained
    maps, replica_maps, error = results["patch"]
    fig = written(plots.uncertainty_figure(images, maps, replica_maps, standard_error=error, row_labels=["a", "b"],
                                           title="patch model"), tmp_path)
    assert len(fig.axes) == 2 * 4 + 2 * 3  # four panels per row, three colorbars
    assert [ax.get_title() for ax in fig.axes[:4]] == ["Image", "Map", "Standard error",
                                                       "In top 10%: share of\n8 replicas"]
    frequency_image = fig.axes[3].get_images()[0]
    assert frequency_image.get_clim() == (0.0, 1.0)
    assert len(fig.axes[3].collections) > 0  # the map's top region outlined
    assert fig.axes[3].get_xlabel().startswith("outline: the map's top 10%\nmean inside ")
    np.testing.assert_allclose(fig.axes[2].get_images()[0].get_array(), error[0], rtol=1e-6)
    default = plots.uncertainty_figure(images, maps, replica_maps)  # the standard error from the replicas
    np.testing.assert_allclose(default.axes[2].get_images()[0].get_array(), error[0], rtol=1e-4, atol=1e-6)


def test_uncertainty_figure_is_byte_identical_for_the_same_seed(explained, tmp_path):
    def drawn(results, name):
        path = plots.save(plots.uncertainty_figure(images, *results["patch"][:2]), tmp_path / name, close=True)
        with open(path, "rb") as stream:
            return stream.read()

    images, results = explained
    again = blind_and_patch_maps(seed=1)[1]
    other = blind_and_patch_maps(seed=2)[1]
    assert drawn(results, "first.png") == drawn(again, "again.png")
    assert drawn(results, "first.png") != drawn(other, "other.png")


def test_uncertainty_figure_bad_input():
    replicas = np.stack([MAPS, MAPS + 0.1], axis=1)
    with pytest.raises(ValueError, match="images_uint8"):
        plots.uncertainty_figure(IMAGES[0, 0], MAPS, replicas)
    with pytest.raises(ValueError, match="maps must have shape \\(3, h, w\\)"):
        plots.uncertainty_figure(IMAGES, MAPS[:2], replicas)
    with pytest.raises(ValueError, match="replica_maps .* R >= 2"):
        plots.uncertainty_figure(IMAGES, MAPS, replicas[:, :1])
    with pytest.raises(ValueError, match="replica_maps contains NaN"):
        plots.uncertainty_figure(IMAGES, MAPS, np.where(replicas > 0.5, np.nan, replicas))
    with pytest.raises(ValueError, match="standard_error"):
        plots.uncertainty_figure(IMAGES, MAPS, replicas, standard_error=MAPS[:, :4])
    with pytest.raises(ValueError, match="fraction"):
        plots.uncertainty_figure(IMAGES, MAPS, replicas, top_fraction=1.5)
    with pytest.raises(ValueError, match="row_labels"):
        plots.uncertainty_figure(IMAGES, MAPS, replicas, row_labels=["a"])


# ------------------------------------------------------------------------------------------ figures read at a glance
RANKING_ROWS = [
    {"variant": "RISE", "mean": 0.45, "low": 0.44, "high": 0.46, "letters": "a", "noise": 0.001},
    {"variant": "D-RISE probability/none = coverage = debiased", "mean": 0.33, "low": 0.32, "high": 0.34,
     "letters": "b", "noise": 0.002},
    {"variant": "D-RISE cosine/none = coverage = debiased", "mean": 0.31, "low": 0.29, "high": 0.32,
     "letters": "bcdefg", "noise": 0.002},
    {"variant": "Grad-CAM", "mean": 0.2, "low": 0.19, "high": 0.22, "letters": "c", "noise": 0.0},
]


def test_ranking_figure_labels_rows_shortly_and_fits(tmp_path):
    title = "Primary metric, declared before the run: road_gap (higher is better; 1000 images)"
    fig = written(plots.ranking_figure(RANKING_ROWS, title=title), tmp_path)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["RISE", "D-RISE probability", "D-RISE cosine",
                                                            "Grad-CAM"]
    assert "none = coverage = debiased" in ax.get_xlabel().replace("\n", " ")  # said once
    assert fig.get_suptitle().replace("\n", " ") == title
    assert [t.get_text() for t in ax.texts] == ["a", "b", "bcdefg", "c"]
    bands = [patch for patch in ax.patches if patch.get_width() > 0]
    assert len(bands) == 3 and bands[0].get_width() == pytest.approx(4 * 0.001)  # Grad-CAM's noise 0: no band
    assert_texts_fit(fig)


def test_short_row_labels():
    assert plots.short_row_labels(["RISE", "D-RISE cosine/none", "D-RISE kl/none"]) == (
        ["RISE", "D-RISE cosine", "D-RISE kl"], "every D-RISE row is the aggregation none")
    # the report's merged names (evaluation.report.group_name): aggregations said once, other members kept short
    labels, note = plots.short_row_labels([
        "D-RISE 7x7 bilinear probability/none = coverage = debiased = RISE",
        "D-RISE 7x7 bilinear probability/none + smoothed = coverage + smoothed = debiased + smoothed",
        "D-RISE 16x16 nearest cosine/none = coverage = debiased", "Grad-CAM + smoothed", "Saliency"])
    assert labels == ["D-RISE 7x7 bilinear probability (= RISE)", "D-RISE 7x7 bilinear probability + smoothed",
                      "D-RISE 16x16 nearest cosine", "Grad-CAM + smoothed", "Saliency"]
    assert note == "every D-RISE row stands for the aggregations none = coverage = debiased (identical pixel orders)"
    # aggregations that differ between rows stay in the labels
    assert plots.short_row_labels(["D-RISE cosine/none = debiased", "D-RISE kl/np", "Grad-CAM"]) == (
        ["D-RISE cosine/none = debiased", "D-RISE kl/np", "Grad-CAM"], "")
    assert plots.short_row_labels(["D-RISE cosine/none = coverage", "Grad-CAM"]) == (
        ["D-RISE cosine/none = coverage", "Grad-CAM"], "")
    assert plots.short_row_labels(["RISE", "Grad-CAM"]) == (["RISE", "Grad-CAM"], "")


def test_uncertainty_figure_texts_fit(explained):
    images, results = explained
    maps, replica_maps, _ = results["blind"]
    assert_texts_fit(plots.uncertainty_figure(images, maps, replica_maps, row_labels=["image 1", "image 2"],
                                              title="test #12: true cat, predicted dog; two-seed Spearman 0.37"))


def test_pareto_figure_joins_the_designs_no_other_beats_on_cost_and_mean(tmp_path):
    points = [("a", 1000.0, 0.30, 0.25, 0.35), ("b", 2000.0, 0.50, 0.45, 0.55), ("c", 4000.0, 0.40, 0.35, 0.45),
              ("d", 8000.0, 0.60, 0.55, 0.65), ("e", 1500.0, 0.20, 0.15, 0.25), ("f", np.nan, 0.9, 0.8, 1.0)]
    fig = written(plots.pareto_figure({"net one": points, "net two": points[:2]}, marked={"b": "recommended"},
                                      cap=40000), tmp_path)
    front = fig.axes[0].lines[0]  # by hand: a (cheapest), then b and d (each better than every cheaper design)
    assert front.get_xdata().tolist() == [1000.0, 2000.0, 8000.0]
    assert front.get_ydata().tolist() == [0.30, 0.50, 0.60]
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert "b (recommended)" in texts and "c" in texts and not any(t.startswith("f") for t in texts)
    assert [ax.get_title() for ax in fig.axes] == ["net one", "net two"]
    with pytest.raises(ValueError, match="panels"):
        plots.pareto_figure({})


def test_calls_figure_draws_one_line_per_method_through_its_budgets(tmp_path):
    strong = {"RISE": [(2000.0, 0.5, 0.4, 0.6), (750.0, 0.4, 0.3, 0.5)], "Sobol": [(528.0, 0.2, 0.1, 0.3)]}
    fig = written(plots.calls_figure({"strong": strong, "cnn": {"HSIC": [(750.0, 0.3, 0.2, 0.4)]}}, dodge=0.0),
                  tmp_path)
    rise = fig.axes[0].lines[0]  # drawn in order of calls, at the calls themselves without dodging
    assert rise.get_xdata().tolist() == [750.0, 2000.0] and rise.get_ydata().tolist() == [0.4, 0.5]
    assert [ax.get_title() for ax in fig.axes] == ["strong", "cnn"] and fig.axes[0].get_xscale() == "log"
    assert [text.get_text() for text in fig.legends[0].get_texts()] == ["RISE", "Sobol", "HSIC"]  # one legend
    dodged = plots.calls_figure({"strong": strong}, dodge=0.1).axes[0]
    assert dodged.lines[0].get_xdata().tolist() == pytest.approx([750.0 / 1.1 ** 0.5, 2000.0 / 1.1 ** 0.5])
    with pytest.raises(ValueError, match="panels"):
        plots.calls_figure({})


def test_saliency_grid_says_which_panels_stopped_at_the_cap(tmp_path):
    fig = written(plots.saliency_grid(IMAGES, {"a": MAPS, "b": MAPS}, stability={"a": [0.91, 0.74, 0.8996],
                                                                                 "b": [1.0, 1.0, 1.0]},
                                      capped={"a": [False, True, True]}), tmp_path)
    texts = sorted(text.get_text() for ax in fig.axes for text in ax.texts if "ρ" in text.get_text())
    # a capped map's number is rounded down: 0.8996 must not read as the target 0.90
    assert texts == sorted(["two-seed ρ 0.91", "two-seed ρ 0.740, cap", "two-seed ρ 0.899, cap"]
                           + ["two-seed ρ 1.00"] * 3)
    with pytest.raises(ValueError, match=r"capped\['c'\]"):
        plots.saliency_grid(IMAGES, {"a": MAPS}, capped={"c": [True, True, True]})
