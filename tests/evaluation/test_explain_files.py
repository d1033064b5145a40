"""Tests of drise_tf.evaluation.explain_files: image files explained by a tiny run folder, its outputs, the model's
input against a resize and standardisation by hand, and the errors raised before the model is loaded."""
from __future__ import annotations

import csv
import pathlib

import numpy as np
import pytest
from PIL import Image
from toy_models import ramp_model, write_run

import drise_tf.evaluation.explain_files as explain_files
from drise_tf.data import ImageFileError
from drise_tf.evaluation import explain_image_files
from drise_tf.explain.base import Explainer

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
#: A coarse D-RISE design whose ramp map is stable within a few rounds (the command keeps D-RISE's own).
COARSE = {"grid_size": 4, "upsample": "bilinear", "similarity": "probability", "aggregation": "np", "n_masks": 500}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> pathlib.Path:
    return write_run(tmp_path_factory.mktemp("run") / "ramp", ramp_model(), MEAN, STD)


@pytest.fixture
def images(tmp_path) -> dict:
    """A red-heavy RGBA PNG of an odd size and a JPEG in a folder (the ramp model's class 3 reads the red channel)."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(23, 37, 3)).astype(np.uint8)
    pixels[..., 0] = rng.integers(200, 256, size=(23, 37))
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(np.dstack([pixels, np.full((23, 37), 230, np.uint8)])).save(tmp_path / "odd.png")
    Image.fromarray(pixels[:20, :30]).save(folder / "photo.jpg", quality=90)
    return {"png": tmp_path / "odd.png", "folder": folder, "jpeg": folder / "photo.jpg"}


def _spy_on_inputs(monkeypatch) -> list:
    """Record the images and targets every explainer is asked about."""
    seen, real = [], Explainer.explain

    def spy(self, images, targets=None, **returns):
        seen.append((np.array(images), np.array(targets)))
        return real(self, images, targets, **returns)

    monkeypatch.setattr(Explainer, "explain", spy)
    return seen


def _by_hand(path: pathlib.Path) -> np.ndarray:
    """The model's input computed independently: RGBA composited on white with numpy, Pillow's bicubic resize, then
    (x / 255 - mean) / std."""
    image = np.asarray(Image.open(path), dtype=np.float64)
    if image.shape[-1] == 4:
        share = image[..., 3:] / 255.0
        image = np.rint(image[..., :3] * share + 255.0 * (1.0 - share))
    resized = np.asarray(Image.fromarray(image.astype(np.uint8)).resize((32, 32), Image.Resampling.BICUBIC))
    return (resized / 255.0 - np.asarray(MEAN)) / np.asarray(STD)


def test_drise_explains_files_and_a_folder_to_a_stability(run_dir, images, tmp_path, capsys, monkeypatch):
    seen = _spy_on_inputs(monkeypatch)
    rows = explain_image_files(run_dir, [images["png"], images["folder"]], tmp_path / "out", target_stability=0.8,
                               max_masks=8000, seed=3, **COARSE)
    printed = capsys.readouterr().out.splitlines()
    assert [row["file"] for row in rows] == [str(images["png"]), str(images["jpeg"])]
    for row, (model_input, targets), stem in zip(rows, seen, ("odd", "photo")):
        assert (row["predicted_class"], row["explained_class"], row["method"]) == ("cat", "cat", "drise")
        assert targets.tolist() == [3]
        assert 0.8 <= row["stability"] <= 1.0 and not row["hit_cap"]
        assert 500 <= row["masks_used"] < 8000 and row["masks_used"] % 500 == 0
        saved = np.load(tmp_path / "out" / f"{stem}_map.npy")
        assert saved.shape == (32, 32) and saved.dtype == np.float32
        # the ramp model's evidence grows towards the bottom right: so does a stable map
        assert saved[16:, 16:].mean() > saved[:16, :16].mean()
        for kind in ("overlay", "uncertainty"):
            assert (tmp_path / "out" / f"{stem}_{kind}.png").stat().st_size > 1000
        line = next(line for line in printed if line.startswith(f"[explain] {row['file']}: "))
        assert (f"predicted cat ({row['probability']:.3f}), explained cat, {row['masks_used']} masks, stability "
                f"{row['stability']:.3f}") in line and "hit the cap" not in line
    np.testing.assert_allclose(seen[0][0][0], _by_hand(images["png"]), atol=1e-5)
    np.testing.assert_allclose(seen[1][0][0], _by_hand(images["jpeg"]), atol=1e-5)
    with open(tmp_path / "out" / explain_files.SUMMARY_FILE, newline="") as stream:
        table = list(csv.DictReader(stream))
    assert [list(line) for line in table] == [list(explain_files.SUMMARY_COLUMNS)] * 2
    assert [float(line["stability"]) for line in table] == [row["stability"] for row in rows]
    assert not list((tmp_path / "out").glob(".tmp-*"))  # atomic writes leave no temporary file


def test_the_same_seed_gives_the_same_maps_and_the_cap_is_reported(run_dir, images, tmp_path, capsys):
    options = dict(COARSE, target_stability=0.999, max_masks=1000)
    first, again, other = (explain_image_files(run_dir, [images["png"]], tmp_path / name, seed=seed, **options)[0]
                           for name, seed in (("first", 0), ("again", 0), ("other", 1)))
    maps = {name: np.load(tmp_path / name / "odd_map.npy") for name in ("first", "again", "other")}
    np.testing.assert_array_equal(maps["first"], maps["again"])
    assert not np.array_equal(maps["first"], maps["other"])
    assert first["hit_cap"] and first["masks_used"] == 1000 and first["stability"] == again["stability"]
    printed = capsys.readouterr().out
    assert printed.count(f"1000 masks, stability {first['stability']:.3f} (hit the cap of 1000 masks before "
                         f"0.999)") == 2  # the two runs of seed 0


def test_a_deterministic_method_a_chosen_class_and_no_uncertainty_figure(run_dir, images, tmp_path, capsys,
                                                                          monkeypatch):
    seen = _spy_on_inputs(monkeypatch)
    (row,) = explain_image_files(run_dir, [images["jpeg"]], tmp_path / "out", method="saliency", target="dog")
    assert seen[0][1].tolist() == [5] and row["explained_class"] == "dog" and row["predicted_class"] == "cat"
    assert (row["masks_used"], row["stability"], row["hit_cap"], row["uncertainty"]) == (None, 1.0, False, None)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "explanations.csv", "photo_map.npy", "photo_overlay.png"]
    printed = capsys.readouterr().out
    assert "saliency has no replica maps: no uncertainty figures" in printed
    assert "explained dog, no masks, stability 1 (deterministic)" in printed
    (row,) = explain_image_files(run_dir, [images["jpeg"]], tmp_path / "smooth", method="smoothgrad", target=3)
    assert row["stability"] is None and "stability n/a (seeded random, not estimated)" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, error, says", [
    ({"images": ["nowhere.png"]}, FileNotFoundError, "nowhere.png does not exist"),
    ({"images": ["notes.txt"]}, ImageFileError, "notes.txt: not a readable PNG or JPEG image"),
    ({"method": "nope"}, ValueError, "unknown explainer 'nope'"),
    ({"target": "zebra"}, ValueError, "target: 'zebra' is neither a class name"),
])
def test_bad_input_fails_before_the_model_is_loaded(images, tmp_path, monkeypatch, arguments, error, says):
    monkeypatch.setattr(explain_files, "load_run", lambda *a: pytest.fail("the model was loaded"))
    (tmp_path / "notes.txt").write_text("not an image")
    arguments = {"images": [images["png"]], **arguments}
    arguments["images"] = [tmp_path / name if isinstance(name, str) else name for name in arguments["images"]]
    with pytest.raises(error, match=says):
        explain_image_files(tmp_path / "run", out=tmp_path / "out", **arguments)
    assert not (tmp_path / "out").exists()
