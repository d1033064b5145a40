"""Tests of drise_tf.data.image_files: which files a path stands for, the errors that name a file, and each file read
as a model's input, against conversions and resizes computed by hand."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from drise_tf.data import CifarDataError, class_index
from drise_tf.data.image_files import ImageFileError, check_image_file, find_image_files, read_image_file


def _pixels(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, channels)).astype(np.uint8).squeeze()


def _save(path, array, **options):
    Image.fromarray(array).save(path, **options)
    return path


def test_rgb_png_and_jpeg_of_odd_sizes_are_resized_bicubic(tmp_path):
    rgb = _pixels(23, 37)
    png = _save(tmp_path / "odd.png", rgb)
    jpeg = _save(tmp_path / "odd.jpg", rgb, quality=85)
    for path in (png, jpeg):
        expected = np.asarray(Image.open(path).convert("RGB").resize((32, 32), Image.Resampling.BICUBIC))
        got = read_image_file(path, (32, 32))
        assert got.dtype == np.uint8 and got.shape == (32, 32, 3)
        np.testing.assert_array_equal(got, expected)
    # height and width are not swapped, and a large image is shrunk to the model's size
    assert read_image_file(png, (16, 48)).shape == (16, 48, 3)
    assert read_image_file(_save(tmp_path / "large.png", _pixels(300, 420)), (32, 32)).shape == (32, 32, 3)


def test_a_constant_image_stays_constant_at_any_size(tmp_path):
    path = _save(tmp_path / "flat.jpg", np.full((57, 91, 3), (200, 30, 90), dtype=np.uint8), quality=100)
    got = read_image_file(path, (32, 32)).reshape(-1, 3)
    assert np.all(np.abs(got.astype(int) - (200, 30, 90)) <= 2)


def test_transparency_is_composited_onto_white(tmp_path):
    rgb = _pixels(9, 13)
    alpha = np.tile(np.array([0, 128, 255], dtype=np.uint8), (9, 5))[:, :13]
    path = _save(tmp_path / "rgba.png", np.dstack([rgb, alpha]))
    share = alpha[..., None] / 255.0
    expected = np.rint(rgb * share + 255 * (1 - share))  # by hand, at the image's own size (no resize)
    got = read_image_file(path, (9, 13)).astype(np.float64)
    assert np.abs(got - expected).max() <= 1  # Pillow's integer blend rounds
    assert np.all(got[alpha == 0] == 255) and np.all(got[alpha == 255] == rgb[alpha == 255])


def test_greyscale_16_bit_and_palette_images_become_rgb(tmp_path):
    grey = _pixels(11, 7, channels=1)
    got = read_image_file(_save(tmp_path / "grey.png", grey), (11, 7))
    np.testing.assert_array_equal(got, np.repeat(grey[..., None], 3, axis=-1))
    deep = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    got = read_image_file(_save(tmp_path / "deep.png", deep), (1, 4))
    np.testing.assert_array_equal(got[..., 0], [[0, 1, 128, 255]])  # scaled, not clipped at 255
    palette = Image.fromarray(_pixels(6, 6)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.save(tmp_path / "palette.png", transparency=0)
    got = read_image_file(tmp_path / "palette.png", (6, 6))
    index = np.asarray(palette)
    colours = np.asarray(palette.getpalette()[:12], dtype=np.uint8).reshape(4, 3)
    expected = np.where((index == 0)[..., None], 255, colours[index])
    np.testing.assert_array_equal(got, expected)


def test_the_exif_orientation_of_a_photo_is_applied(tmp_path):
    pixels = _pixels(4, 6)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = _save(tmp_path / "turned.png", pixels, exif=exif)
    np.testing.assert_array_equal(read_image_file(path, (6, 4)), np.rot90(pixels, k=-1))


def test_a_folder_stands_for_its_png_and_jpeg_files_sorted(tmp_path):
    folder = tmp_path / "images"
    (folder / "deeper").mkdir(parents=True)
    for name in ("b.png", "a.JPG", "c.jpeg", ".hidden.png", "deeper/d.png"):
        _save(folder / name, _pixels(5, 5), **({"format": "JPEG"} if "jp" in name.lower() else {}))
    (folder / "notes.txt").write_text("not an image")
    single = _save(tmp_path / "single.png", _pixels(5, 5))
    found = find_image_files([single, folder, folder / "b.png"])  # b.png named twice: taken once
    assert found == [single, folder / "a.JPG", folder / "b.png", folder / "c.jpeg"]


@pytest.mark.parametrize("case, says", [
    ("missing", "does not exist"),
    ("text", "not a readable PNG or JPEG image"),
    ("truncated", "truncated"),
    ("empty_folder", "holds no PNG or JPEG file"),
    ("gif", "a GIF image; only PNG and JPEG"),
    ("same_name", "have the same name 'cat'"),
])
def test_each_bad_path_is_an_error_naming_it(tmp_path, case, says):
    good = _save(tmp_path / "good.png", _pixels(8, 8))
    complete = (tmp_path / "good.png").read_bytes()
    paths = {
        "missing": tmp_path / "nowhere.png",
        "text": tmp_path / "notes.txt",
        "truncated": tmp_path / "cut.png",
        "empty_folder": tmp_path / "empty",
        "gif": tmp_path / "moving.gif",
        "same_name": tmp_path / "cat.jpg",
    }
    paths["text"].write_text("hello")
    paths["truncated"].write_bytes(complete[: len(complete) // 2])
    paths["empty_folder"].mkdir()
    (paths["empty_folder"] / "notes.txt").write_text("no image here")
    _save(paths["gif"], _pixels(8, 8))
    (tmp_path / "other").mkdir()
    _save(tmp_path / "other" / "cat.png", _pixels(8, 8))
    _save(paths["same_name"], _pixels(8, 8))
    given = [good, tmp_path / "other" / "cat.png", paths[case]] if case == "same_name" else [good, paths[case]]
    with pytest.raises((FileNotFoundError, ImageFileError)) as caught:
        find_image_files(given)
    assert str(paths[case]) in str(caught.value) and says in str(caught.value), caught.value
    if case not in ("empty_folder", "same_name"):
        with pytest.raises((FileNotFoundError, ImageFileError), match=says):
            read_image_file(paths[case], (32, 32))


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ImageFileError, match="non-empty list"):
        find_image_files([])
    with pytest.raises(ImageFileError, match="non-empty list"):
        find_image_files(str(tmp_path))  # a bare string would be read letter by letter
    path = _save(tmp_path / "ok.png", _pixels(4, 4))
    check_image_file(path)
    for size in ((32,), (0, 32), (32.0, 32)):
        with pytest.raises(ValueError, match="size must be"):
            read_image_file(path, size)


def test_class_index_takes_names_and_indices():
    assert [class_index(value, "x") for value in ("cat", "Dog ", "9", 0, 3)] == [3, 5, 9, 0, 3]
    for wrong in ("zebra", "10", -1, True, ""):
        with pytest.raises(CifarDataError, match="argument --class: .* is neither a class name"):
            class_index(wrong, "argument --class")


def test_the_file_readers_import_without_tensorflow(tmp_path):
    path = _save(tmp_path / "ok.png", _pixels(4, 4))
    probe = ("import sys; from drise_tf.data import find_image_files, read_image_file, class_index; "
             f"find_image_files([{str(path)!r}]); read_image_file({str(path)!r}, (2, 2)); class_index('cat', 'x'); "
             "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False False"
