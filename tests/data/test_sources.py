"""Tests of drise_tf.data.load_cifar10 and its sources (python batches, tarball, npz, image folders, Keras, env)."""
from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess
import tarfile

import numpy as np
import pytest
from PIL import Image

from drise_tf import data
from drise_tf.core.compat import keras
from drise_tf.data import (
    CifarDataError,
    CifarNotAvailableError,
    UnsafePickleError,
    load_cifar10,
)

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


# ------------------------------------------------------------------------------------------------ fake data
def fake_rows(n: int, seed: int) -> tuple[np.ndarray, list]:
    """Raw CIFAR rows (n, 3072) uint8 and labels, as stored in the official batches."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), rng.integers(0, 10, size=n).tolist()


def rows_to_images(rows: np.ndarray) -> np.ndarray:
    """Reference decoding by the official format: byte ch*1024 + r*32 + c is pixel (r, c) of channel ch."""
    images = np.zeros((len(rows), 32, 32, 3), dtype=np.uint8)
    for i, row in enumerate(rows):
        for ch in range(3):
            for r in range(32):
                images[i, r, :, ch] = row[ch * 1024 + r * 32: ch * 1024 + r * 32 + 32]
    return images


def batch_bytes(rows, labels, *, bytes_keys: bool = False) -> bytes:
    batch = {"batch_label": "fake batch", "labels": list(labels), "data": rows,
             "filenames": [f"img_{i}.png" for i in range(len(labels))]}
    if bytes_keys:  # python-2 era batches, as the official files load with encoding="bytes"
        batch = {key.encode(): value for key, value in batch.items()}
    return pickle.dumps(batch, protocol=2)


def make_batches(sizes=(2, 3, 2, 2, 1, 3)) -> dict:
    """{batch name: (rows, labels)} with a few images per batch."""
    return {name: fake_rows(n, seed) for seed, (name, n) in enumerate(zip(BATCHES, sizes))}


def expected(batches: dict):
    train_rows = np.concatenate([batches[b][0] for b in BATCHES[:5]])
    train_labels = sum((batches[b][1] for b in BATCHES[:5]), [])
    test_rows, test_labels = batches["test_batch"]
    as_y = lambda labels: np.array(labels, dtype=np.uint8).reshape(-1, 1)  # noqa: E731
    return (rows_to_images(train_rows), as_y(train_labels)), (rows_to_images(test_rows), as_y(test_labels))


def write_batches(folder, batches, *, bytes_keys: bool = False) -> str:
    os.makedirs(folder, exist_ok=True)
    for name, (rows, labels) in batches.items():
        with open(os.path.join(folder, name), "wb") as stream:
            stream.write(batch_bytes(rows, labels, bytes_keys=bytes_keys))
    return str(folder)


def write_tarball(path, batches, *, extra: dict | None = None) -> str:
    members = {f"cifar-10-batches-py/{name}": batch_bytes(*value) for name, value in batches.items()}
    members["cifar-10-batches-py/readme.html"] = b"<html></html>"
    members.update(extra or {})
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return str(path)


def assert_same(result, reference) -> None:
    """``load_cifar10``'s result equals a Keras-format reference: the same uint8 images, the labels as int64 (N,)."""
    (x_train, y_train), (x_test, y_test) = result
    (rx_train, ry_train), (rx_test, ry_test) = reference
    for got, want in ((x_train, rx_train), (x_test, rx_test)):
        assert got.dtype == np.uint8 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    for got, want in ((y_train, ry_train), (y_test, ry_test)):
        assert got.dtype == np.int64 and got.shape == (len(want),)
        np.testing.assert_array_equal(got, np.asarray(want).reshape(-1))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)


# ------------------------------------------------------------------------------------------- python batches
@pytest.mark.parametrize("bytes_keys", [False, True])
def test_batches_folder_matches_official_format(tmp_path, bytes_keys):
    batches = make_batches()
    folder = write_batches(tmp_path / "b", batches, bytes_keys=bytes_keys)
    result = load_cifar10(folder)
    assert result[0][0].shape == (10, 32, 32, 3) and result[0][1].shape == (10,)
    assert_same(result, expected(batches))


def test_batches_in_tarball_inner_folder(tmp_path):
    batches = make_batches()
    write_batches(tmp_path / "cifar-10-batches-py", batches)
    assert_same(load_cifar10(tmp_path), expected(batches))


def test_tarball_read_in_place(tmp_path):
    batches = make_batches()
    path = write_tarball(tmp_path / "cifar-10-python.tar.gz", batches)
    assert_same(load_cifar10(path), expected(batches))
    assert sorted(os.listdir(tmp_path)) == ["cifar-10-python.tar.gz"]  # nothing extracted


def test_npz_and_batches_give_identical_arrays(tmp_path):
    batches = make_batches()
    (x_train, y_train), (x_test, y_test) = load_cifar10(write_batches(tmp_path / "b", batches))
    path = tmp_path / "same.npz"
    # labels (N,) for train, (N, 1) for test, plus an extra key that must be ignored
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test[:, None].astype(np.uint8),
             lossless_train=np.ones(len(x_train), bool))
    assert_same(load_cifar10(path), ((x_train, y_train), (x_test, y_test)))


@pytest.mark.parametrize("module", ["numpy.core.multiarray", "numpy._core.multiarray"])
def test_pickles_from_numpy_1_and_2_both_load(tmp_path, module):
    batches = make_batches()
    folder = write_batches(tmp_path, batches)
    for name in BATCHES:  # rewrite the GLOBAL opcode's module name as the other numpy major writes it
        path = os.path.join(folder, name)
        payload = open(path, "rb").read()
        for written in (b"numpy.core.multiarray\n", b"numpy._core.multiarray\n"):
            payload = payload.replace(written, module.encode() + b"\n")
        assert module.encode() in payload
        open(path, "wb").write(payload)
    assert_same(load_cifar10(folder), expected(batches))


# ------------------------------------------------------------------------------------------ unsafe pickles
class _Evil:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _evil_payloads(marker: str):
    return {
        "os.system": (os.system, (f"touch {marker}",)),
        "builtins.exec": (builtins.exec, (f"open({marker!r}, 'w').close()",)),
        "builtins.eval": (builtins.eval, (f"open({marker!r}, 'w').close()",)),
        "subprocess.call": (subprocess.call, (["touch", marker],)),
    }


@pytest.mark.parametrize("kind", ["os.system", "builtins.exec", "builtins.eval", "subprocess.call"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, kind):
    marker = str(tmp_path / "marker")
    func, args = _evil_payloads(marker)[kind]
    batches = make_batches()
    folder = write_batches(tmp_path / "b", batches)
    evil = {"data": _Evil(func, args), "labels": [0]}
    with open(os.path.join(folder, "data_batch_3"), "wb") as stream:
        pickle.dump(evil, stream, protocol=2)
    with pytest.raises(UnsafePickleError, match="data_batch_3.*refused"):
        load_cifar10(folder)
    assert not os.path.exists(marker)
    # the same file inside a tarball
    tar_path = write_tarball(tmp_path / "evil.tar.gz", batches,
                             extra={"cifar-10-batches-py/data_batch_1": pickle.dumps(evil, protocol=2)})
    with pytest.raises(UnsafePickleError, match="refused"):
        load_cifar10(tar_path)
    assert not os.path.exists(marker)


@pytest.mark.parametrize("payload, match", [
    ({"data": np.array([1, "a"], dtype=object), "labels": [0]}, "object"),
    ({"data": __import__("collections").OrderedDict(a=1), "labels": [0]}, "collections.OrderedDict"),
    ({"data": {1, 2}, "labels": [0]}, r"refused to unpickle __builtin__\.set"),
    ({"data": (1, 2), "labels": [0]}, "unexpected tuple"),
], ids=["object-array", "other-class", "set", "tuple"])
def test_pickle_with_disallowed_content_is_refused(tmp_path, payload, match):
    folder = write_batches(tmp_path, make_batches())
    with open(os.path.join(folder, "test_batch"), "wb") as stream:
        pickle.dump(payload, stream, protocol=2)
    with pytest.raises(UnsafePickleError, match=match):
        load_cifar10(folder)


# ------------------------------------------------------------------------------------------------- bad data
def _corrupt_batch(tmp_path, name, **changes):
    batches = make_batches()
    folder = write_batches(tmp_path, batches)
    rows, labels = batches[name]
    batch = {"data": changes.get("data", rows), "labels": changes.get("labels", labels)}
    with open(os.path.join(folder, name), "wb") as stream:
        pickle.dump(batch, stream, protocol=2)
    return folder


@pytest.mark.parametrize("change, match", [
    (dict(data=np.zeros((2, 3000), np.uint8)), r"data_batch_2.*\(n, 3072\)"),
    (dict(data=np.zeros((3, 3072), np.int32)), r"data_batch_2.*uint8"),
    (dict(labels=[0, 10, 1]), r"data_batch_2.*0\.\.9.*10"),
    (dict(labels=[0, -1, 1]), r"data_batch_2.*0\.\.9"),
    (dict(labels=[0, 1]), r"data_batch_2.*3 images but 2 labels"),
    (dict(labels=[0.5, 1.0, 2.0]), r"data_batch_2.*integers"),
])
def test_bad_batch_content(tmp_path, change, match):
    with pytest.raises(CifarDataError, match=match):
        load_cifar10(_corrupt_batch(tmp_path, "data_batch_2", **change))


def test_batch_that_is_not_a_dict(tmp_path):
    folder = write_batches(tmp_path, make_batches())
    with open(os.path.join(folder, "data_batch_1"), "wb") as stream:
        pickle.dump([1, 2, 3], stream, protocol=2)
    with pytest.raises(CifarDataError, match="data_batch_1.*dict"):
        load_cifar10(folder)


def test_batch_missing_labels_key(tmp_path):
    folder = write_batches(tmp_path, make_batches())
    with open(os.path.join(folder, "data_batch_1"), "wb") as stream:
        pickle.dump({"data": np.zeros((1, 3072), np.uint8)}, stream, protocol=2)
    with pytest.raises(CifarDataError, match="data_batch_1.*'labels'"):
        load_cifar10(folder)


def test_missing_batch_is_named(tmp_path):
    batches = make_batches()
    del batches["data_batch_4"]
    with pytest.raises(FileNotFoundError, match="data_batch_4"):
        load_cifar10(write_batches(tmp_path, batches))
    del batches["test_batch"]
    with pytest.raises(FileNotFoundError, match="data_batch_4, test_batch"):
        load_cifar10(write_tarball(tmp_path / "part.tar.gz", batches))


def test_truncated_pickle(tmp_path):
    folder = write_batches(tmp_path, make_batches())
    path = os.path.join(folder, "test_batch")
    payload = open(path, "rb").read()
    with open(path, "wb") as stream:
        stream.write(payload[: len(payload) // 2])
    with pytest.raises(CifarDataError, match="test_batch.*truncated or corrupt"):
        load_cifar10(folder)


@pytest.mark.parametrize("fraction", [0.3, 0.9])
def test_truncated_tarball(tmp_path, fraction):
    path = write_tarball(tmp_path / "cifar.tar.gz", make_batches())
    payload = open(path, "rb").read()
    with open(path, "wb") as stream:
        stream.write(payload[: int(len(payload) * fraction)])
    with pytest.raises(CifarDataError, match="cifar.tar.gz.*truncated or corrupt"):
        load_cifar10(path)


def _write_npz(path, **override):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8), y_train=np.arange(4),
                  x_test=rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), y_test=np.array([[1], [2]]))
    arrays.update(override)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("override, match", [
    (dict(y_test=None), "missing key.*y_test"),
    (dict(x_train=np.zeros((4, 3, 32, 32), np.uint8)), r"x_train.*\(N, 32, 32, 3\)"),
    (dict(x_test=np.zeros((2, 32, 32, 3), np.float32)), r"x_test.*uint8.*float32"),
    (dict(y_train=np.array([0, 1, 2, 12])), r"y_train.*0\.\.9.*12"),
    (dict(y_train=np.arange(3)), r"x_train, y_train.*4 images but 3 labels"),
    (dict(y_test=np.zeros((2, 2), np.int64)), r"y_test.*\(N,\) or \(N, 1\)"),
])
def test_bad_npz(tmp_path, override, match):
    with pytest.raises(CifarDataError, match=match):
        load_cifar10(_write_npz(tmp_path / "bad.npz", **override))


def test_npz_with_object_array_is_refused(tmp_path):
    path = _write_npz(tmp_path / "obj.npz", y_train=np.array([0, 1, 2, "x"], dtype=object))
    with pytest.raises(CifarDataError, match="obj.npz"):
        load_cifar10(path)


def test_truncated_npz(tmp_path):
    path = _write_npz(tmp_path / "cut.npz")
    payload = open(path, "rb").read()
    with open(path, "wb") as stream:
        stream.write(payload[: len(payload) // 2])
    with pytest.raises(CifarDataError, match="cut.npz.*truncated or corrupt"):
        load_cifar10(path)


def test_missing_and_unsupported_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_cifar10(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(CifarDataError, match=r"x.txt.*unsupported"):
        load_cifar10(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CifarDataError, match="empty.*no CIFAR-10 data"):
        load_cifar10(tmp_path / "empty")


# --------------------------------------------------------------------------------------------- image folders
def _images(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def _save(path, image) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(image).save(path)


@pytest.mark.parametrize("by_index", [False, True])
def test_image_folder_with_class_subfolders(tmp_path, by_index):
    reference = []
    for split, seed in (("train", 1), ("test", 2)):
        x, y = _images(12, seed)
        for i, (image, label) in enumerate(zip(x, y)):
            folder = str(label) if by_index else data.CLASS_NAMES[label].capitalize()
            _save(tmp_path / split / folder / f"{i}.png", image)
        # documented order: class index, then natural file order (2.png before 10.png)
        order = sorted(range(len(y)), key=lambda i: (y[i], i))
        reference.append((x[order], y[order].astype(np.uint8).reshape(-1, 1)))
    (tmp_path / "train" / ".DS_Store").write_text("ignored")
    assert_same(load_cifar10(tmp_path), reference)


def test_image_folder_with_labels_csv(tmp_path):
    x_train, y_train = _images(5, 3)
    x_test, y_test = _images(4, 4)
    rows = ["id,label"]
    for i, (image, label) in enumerate(zip(x_train, y_train)):  # Kaggle style: stems, class names
        _save(tmp_path / "train" / f"{i + 1}.png", image)
        rows.append(f"{i + 1},{data.CLASS_NAMES[label]}")
    (tmp_path / "trainLabels.csv").write_text("\n".join(rows[:1] + rows[:0:-1]) + "\n")  # reversed row order
    rows = ["Filename,Class"]
    for i, (image, label) in enumerate(zip(x_test, y_test)):  # file names with extension, class indices
        _save(tmp_path / "test" / f"img{i}.png", image)
        rows.append(f"img{i}.png,{label}")
    (tmp_path / "test" / "labels.csv").write_text("\n".join(rows) + "\n")
    to_y = lambda y: y.astype(np.uint8).reshape(-1, 1)  # noqa: E731
    assert_same(load_cifar10(tmp_path), ((x_train[::-1], to_y(y_train[::-1])), (x_test, to_y(y_test))))


def _image_folder(tmp_path):
    x, _ = _images(2, 0)
    for split in ("train", "test"):
        _save(tmp_path / split / "cat" / "0.png", x[0])
    return tmp_path


@pytest.mark.parametrize("bad, match", [
    (lambda p: Image.fromarray(np.zeros((28, 32, 3), np.uint8)).save(p), r"bad.png.*32x28.*32x32"),
    (lambda p: Image.fromarray(np.zeros((32, 32), np.uint8)).save(p), r"bad.png.*mode L.*RGB"),
    (lambda p: open(p, "wb").write(b"\x89PNG not really"), r"bad.png.*truncated or corrupt"),
], ids=["size", "grey", "corrupt"])
def test_bad_images_are_named(tmp_path, bad, match):
    root = _image_folder(tmp_path)
    bad(str(root / "test" / "cat" / "bad.png"))
    with pytest.raises(CifarDataError, match=match):
        load_cifar10(root)


def test_unknown_class_folder_and_bad_csv(tmp_path):
    root = _image_folder(tmp_path)
    os.makedirs(root / "train" / "unicorn")
    with pytest.raises(CifarDataError, match="unicorn.*class name"):
        load_cifar10(root)
    (root / "train.csv").write_text("name,label\n0.png,cat\n")
    with pytest.raises(CifarDataError, match="train.csv.*file column"):
        load_cifar10(root)
    (root / "train.csv").write_text("file,label\nmissing,cat\n")
    with pytest.raises(CifarDataError, match="train.csv, line 2.*'missing' not found"):
        load_cifar10(root)


# -------------------------------------------------------------------------------------- keras and the env var
def test_resolve_source_precedence(monkeypatch, tmp_path):
    assert data.resolve_source() is None
    monkeypatch.setenv(data.DATA_ENV, "")
    assert data.resolve_source() is None
    monkeypatch.setenv(data.DATA_ENV, "/from/env")
    assert data.resolve_source() == "/from/env"
    assert data.resolve_source(tmp_path) == str(tmp_path)


def test_env_var_names_the_source(monkeypatch, tmp_path):
    batches = make_batches()
    monkeypatch.setenv(data.DATA_ENV, write_tarball(tmp_path / "c.tar.gz", batches))
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: pytest.fail("keras must not be asked"))
    assert_same(load_cifar10(), expected(batches))
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "gone.npz"))
    with pytest.raises(FileNotFoundError, match=r"\$DRISE_TF_DATA.*gone.npz"):
        load_cifar10()


def test_keras_download_passes_through_with_flat_labels(monkeypatch):
    images = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3)
    keras_format = ((images, np.array([[3], [7]], np.uint8)), (images[:1], np.array([[9]], np.uint8)))
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: keras_format)
    (x_train, y_train), (x_test, y_test) = load_cifar10()
    assert x_train is images and x_test is keras_format[1][0]
    assert y_train.dtype == y_test.dtype == np.int64
    assert y_train.tolist() == [3, 7] and y_test.tolist() == [9]


def test_offline_without_data_gives_one_clear_error(monkeypatch):
    def offline():
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: None")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(CifarNotAvailableError) as info:
        load_cifar10()
    message = str(info.value)
    for needle in ("URL fetch failure", data.CIFAR10_URL, "DRISE_TF_DATA=", "--data"):
        assert needle in message
    assert isinstance(info.value, FileNotFoundError)


# ---------------------------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_subset_through_npz(cifar_subset_file):
    (x_train, y_train), (x_test, y_test) = load_cifar10(cifar_subset_file)
    assert x_train.shape == (20000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert y_train.shape == (20000,) and y_test.shape == (10000,)
    assert x_train.dtype == x_test.dtype == np.uint8 and y_train.dtype == y_test.dtype == np.int64
    assert data.CLASS_NAMES[y_train[0]] == "frog" and data.CLASS_NAMES[y_test[0]] == "cat"
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
