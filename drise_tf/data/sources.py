"""Readers for the local CIFAR-10 sources behind :func:`drise_tf.data.load_cifar10`.

Each reader returns ``((x_train, y_train), (x_test, y_test))`` exactly as ``keras.datasets.cifar10.load_data()``
does: ``x`` uint8 ``(N, 32, 32, 3)`` RGB, ``y`` uint8 ``(N, 1)``. Every fault is reported with the file it was found in.

The python batches are pickles. They are read with :class:`_RestrictedUnpickler`, which resolves only the few numpy
names an array needs; anything else (``os.system``, ``builtins.eval``, any class) is refused before it can run.
"""
from __future__ import annotations

import csv
import importlib
import io
import os
import pickle
import re
import tarfile
import zipfile
import zlib
from typing import Any, BinaryIO, Dict, List, Sequence, Tuple

import numpy as np

Split = Tuple[np.ndarray, np.ndarray]

CLASS_NAMES: Tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SHAPE = (32, 32, 3)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
TARBALL_FOLDER = "cifar-10-batches-py"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class CifarDataError(ValueError):
    """A CIFAR-10 source exists but its content is wrong (corrupt, truncated, bad shape, dtype or labels)."""


class UnsafePickleError(CifarDataError):
    """A pickle asked for something outside the numpy-array allow-list; nothing in it was run."""


# --------------------------------------------------------------------------------------------- restricted pickles
def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for ``bytes``: latin-1 only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(f"_codecs.encode called with encoding {encoding!r}; only latin1 is allowed")
    return text.encode("latin1")


def _safe_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise UnsafePickleError(f"object dtype {dtype} refused (object arrays can hold arbitrary objects)")
    return dtype


def _numpy_globals() -> Dict[Tuple[str, str], Any]:
    core = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"  # renamed in numpy 2
    multiarray = importlib.import_module(f"{core}.multiarray")
    reconstruct, scalar = multiarray._reconstruct, multiarray.scalar
    frombuffer = importlib.import_module(f"{core}.numeric")._frombuffer
    allowed: Dict[Tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _safe_dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):  # pickles written by numpy 1 and by numpy 2
        allowed[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return allowed


_ALLOWED_GLOBALS = _numpy_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the numpy names needed to rebuild plain arrays."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        super().__init__(stream, encoding="bytes")
        self._name = name

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self._name}: refused to unpickle {module}.{name}; a CIFAR-10 batch holds only dicts, lists, "
                "numbers, strings, bytes and numpy arrays (nothing in this file was run)"
            ) from None


def _check_plain(obj: Any, name: str) -> None:
    """Raise unless ``obj`` is built only of dicts, lists, numbers, strings, bytes and non-object numpy arrays."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, (np.ndarray, np.generic)):
            if item.dtype.hasobject:
                raise UnsafePickleError(f"{name}: object arrays are refused")
        elif item is not None and not isinstance(item, (bool, int, float, str, bytes)):
            raise UnsafePickleError(f"{name}: unexpected {type(item).__name__} in the pickle")


def load_pickle(stream: BinaryIO, name: str) -> Any:
    """Unpickle ``stream`` with the allow-list; ``name`` (a file name) appears in every error."""
    try:
        obj = _RestrictedUnpickler(stream, name).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # any parse failure means the file is damaged
        raise CifarDataError(
            f"{name}: not a readable CIFAR-10 python batch, the file is truncated or corrupt "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    _check_plain(obj, name)
    return obj


# ------------------------------------------------------------------------------------------------- validation
def check_labels(labels: Any, name: str) -> np.ndarray:
    """Return ``labels`` as a uint8 ``(N, 1)`` array, or raise naming ``name`` (shape, dtype, range)."""
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise CifarDataError(f"{name}: labels must have shape (N,) or (N, 1), got {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise CifarDataError(f"{name}: labels must be integers 0..9, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
        bad = y[(y < 0) | (y >= NUM_CLASSES)]
        raise CifarDataError(f"{name}: labels must lie in 0..{NUM_CLASSES - 1}, found {bad[:5].tolist()}")
    return y.astype(np.uint8).reshape(-1, 1)


def check_split(x: Any, y: Any, name: str) -> Split:
    """Validate one split: x uint8 ``(N, 32, 32, 3)``, labels 0..9, equal lengths; return keras-style arrays."""
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise CifarDataError(f"{name}: images must have shape (N, 32, 32, 3), got {x.shape}")
    if x.dtype != np.uint8:
        raise CifarDataError(f"{name}: images must be uint8 pixel values 0..255, got dtype {x.dtype}")
    y = check_labels(y, name)
    if len(x) != len(y):
        raise CifarDataError(f"{name}: {len(x)} images but {len(y)} labels")
    if len(x) == 0:
        raise CifarDataError(f"{name}: holds no images")
    return x, y


# --------------------------------------------------------------------------------------------- python batches
def parse_batch(stream: BinaryIO, name: str) -> Split:
    """Read one python batch (dict with ``data`` uint8 (n, 3072) channel-first rows and ``labels``)."""
    batch = load_pickle(stream, name)
    if not isinstance(batch, dict):
        raise CifarDataError(f"{name}: expected a dict with 'data' and 'labels', got {type(batch).__name__}")
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    missing = [key for key in ("data", "labels") if key not in batch]
    if missing:
        raise CifarDataError(f"{name}: batch has no {' or '.join(repr(k) for k in missing)} entry")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        shape = getattr(data, "shape", type(data).__name__)
        raise CifarDataError(f"{name}: 'data' must be an array of shape (n, 3072), got {shape}")
    if data.dtype != np.uint8:
        raise CifarDataError(f"{name}: 'data' must be uint8, got dtype {data.dtype}")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel-first rows -> NHWC, as Keras does
    return check_split(x, batch["labels"], name)


def _join(parts: Sequence[Split]) -> Split:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _assemble(batches: Dict[str, Split], where: str) -> Tuple[Split, Split]:
    missing = [b for b in TRAIN_BATCHES + (TEST_BATCH,) if b not in batches]
    if missing:
        raise FileNotFoundError(f"{where}: missing CIFAR-10 batch file(s) {', '.join(missing)}")
    return _join([batches[b] for b in TRAIN_BATCHES]), _join([batches[TEST_BATCH]])


def batches_folder(root: str) -> str | None:
    """The folder under ``root`` that holds python batches (``root`` itself or ``root/cifar-10-batches-py``)."""
    for folder in (root, os.path.join(root, TARBALL_FOLDER)):
        if any(os.path.isfile(os.path.join(folder, b)) for b in TRAIN_BATCHES + (TEST_BATCH,)):
            return folder
    return None


def load_batches_dir(folder: str) -> Tuple[Split, Split]:
    """Read ``data_batch_1..5`` and ``test_batch`` from ``folder``."""
    batches = {}
    for batch in TRAIN_BATCHES + (TEST_BATCH,):
        path = os.path.join(folder, batch)
        if os.path.isfile(path):
            with open(path, "rb") as stream:
                batches[batch] = parse_batch(stream, path)
    return _assemble(batches, folder)


def load_tarball(path: str) -> Tuple[Split, Split]:
    """Read the batches straight from the official ``cifar-10-python.tar.gz`` (one forward pass, no extraction)."""
    wanted = set(TRAIN_BATCHES + (TEST_BATCH,))
    batches = {}
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted and base not in batches:
                    stream = tar.extractfile(member)
                    batches[base] = parse_batch(io.BytesIO(stream.read()), f"{path}:{member.name}")
    except CifarDataError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise CifarDataError(f"{path}: not a readable tar archive, truncated or corrupt ({exc})") from exc
    return _assemble(batches, path)


# ------------------------------------------------------------------------------------------------------- npz
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_npz(path: str) -> Tuple[Split, Split]:
    """Read an ``.npz`` with ``x_train, y_train, x_test, y_test`` (other keys ignored; pickles refused)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in NPZ_KEYS if k not in archive.files]
            if missing:
                raise CifarDataError(f"{path}: missing key(s) {', '.join(missing)} (found {', '.join(archive.files)})")
            arrays = {key: archive[key] for key in NPZ_KEYS}
    except CifarDataError:
        raise
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, zlib.error) as exc:
        raise CifarDataError(f"{path}: not a readable .npz, truncated or corrupt ({exc})") from exc
    return (
        check_split(arrays["x_train"], arrays["y_train"], f"{path} (x_train, y_train)"),
        check_split(arrays["x_test"], arrays["y_test"], f"{path} (x_test, y_test)"),
    )


# ---------------------------------------------------------------------------------------------- image folders
_FILE_COLUMNS = ("filename", "file", "image", "id")
_LABEL_COLUMNS = ("label", "class")


def _natural_key(text: str) -> List[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def class_index(value: str | int, where: str) -> int:
    """The class index of ``value``: a class name (any case, e.g. "Cat"), or an index 0..9 as an int or digits.

    Raises
    ------
    CifarDataError
        Neither; the message starts with ``where`` (what holds the value).
    """
    text = str(value).strip().lower()
    if text in CLASS_NAMES:
        return CLASS_NAMES.index(text)
    if not isinstance(value, bool) and text.isdigit() and int(text) < NUM_CLASSES:
        return int(text)
    raise CifarDataError(f"{where}: {value!r} is neither a class name ({', '.join(CLASS_NAMES)}) nor 0..9")


def read_image(path: str) -> np.ndarray:
    """Read one 32x32 RGB image (palette images are converted to RGB) as uint8 (32, 32, 3)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.size != (32, 32):
                raise CifarDataError(f"{path}: image is {image.size[0]}x{image.size[1]}, CIFAR-10 images are 32x32")
            if image.mode == "P":
                image = image.convert("RGB")
            if image.mode != "RGB":
                raise CifarDataError(f"{path}: image mode {image.mode}, expected RGB colour")
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CifarDataError(f"{path}: not a readable image, truncated or corrupt ({exc})") from exc


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def _labels_csv(root: str, split: str) -> str | None:
    for name in (f"{split}.csv", f"{split}_labels.csv", f"{split}Labels.csv", os.path.join(split, "labels.csv")):
        if os.path.isfile(os.path.join(root, name)):
            return os.path.join(root, name)
    return None


def _find_image(folder: str, entry: str, where: str) -> str:
    candidates = [entry] if os.path.splitext(entry)[1] else [entry + suffix for suffix in IMAGE_SUFFIXES]
    for candidate in candidates:
        if os.path.isfile(os.path.join(folder, candidate)):
            return os.path.join(folder, candidate)
    raise CifarDataError(f"{where}: image {entry!r} not found in {folder}")


def _csv_entries(csv_path: str, folder: str) -> List[Tuple[str, int]]:
    try:
        with open(csv_path, newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CifarDataError(f"{csv_path}: cannot read the labels CSV ({exc})") from exc
    if not rows:
        raise CifarDataError(f"{csv_path}: the labels CSV is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    file_col = next((header.index(c) for c in _FILE_COLUMNS if c in header), None)
    label_col = next((header.index(c) for c in _LABEL_COLUMNS if c in header), None)
    if file_col is None or label_col is None:
        raise CifarDataError(
            f"{csv_path}: header {rows[0]} needs a file column ({'/'.join(_FILE_COLUMNS)}) "
            f"and a label column ({'/'.join(_LABEL_COLUMNS)})"
        )
    entries = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        where = f"{csv_path}, line {line}"
        if len(row) <= max(file_col, label_col):
            raise CifarDataError(f"{where}: too few columns")
        entries.append((_find_image(folder, row[file_col].strip(), where), class_index(row[label_col], where)))
    return entries


def _class_folder_entries(folder: str) -> List[Tuple[str, int]]:
    entries = []
    for sub in sorted(os.listdir(folder)):
        path = os.path.join(folder, sub)
        if sub.startswith(".") or not os.path.isdir(path):
            continue
        label = class_index(sub, f"{folder}: sub-folder {sub!r}")
        files = sorted((f for f in os.listdir(path) if _is_image(f)), key=_natural_key)
        entries.extend((os.path.join(path, f), label) for f in files)
    entries.sort(key=lambda entry: entry[1])  # stable: class index, then natural file order
    return entries


def is_image_folder(root: str) -> bool:
    """True when ``root`` has ``train`` and ``test`` sub-folders (the image-folder layout)."""
    return all(os.path.isdir(os.path.join(root, split)) for split in ("train", "test"))


def load_image_folder(root: str) -> Tuple[Split, Split]:
    """Read ``root/train`` and ``root/test`` (class sub-folders, or images plus a labels CSV; see data docs)."""
    splits = []
    for split in ("train", "test"):
        folder = os.path.join(root, split)
        csv_path = _labels_csv(root, split)
        entries = _csv_entries(csv_path, folder) if csv_path else _class_folder_entries(folder)
        if not entries:
            raise CifarDataError(f"{folder}: no images found (expected class sub-folders or a labels CSV)")
        x = np.stack([read_image(path) for path, _ in entries])
        splits.append(check_split(x, np.array([label for _, label in entries]), folder))
    return splits[0], splits[1]
