"""Image files a user hands in to be explained: found (files, or a folder's PNG and JPEG files), checked, and read
as a model's input (RGB uint8 at the model's size).

Needs Pillow and NumPy only, no TensorFlow: the command line checks every file with :func:`find_image_files`
before it imports TensorFlow or loads a model.

How a file becomes the model's input (:func:`read_image_file`):

- the EXIF orientation of a photo is applied (:func:`PIL.ImageOps.exif_transpose`);
- 16-bit greyscale is scaled to 8 bits (0..65535 -> 0..255);
- transparent pixels (RGBA, greyscale + alpha, palette or RGB with a transparent colour) are composited onto
  :data:`BACKGROUND` white; greyscale, palette and CMYK become RGB;
- the image is resized to the model's height x width with Pillow's bicubic filter (:data:`RESAMPLING`; Pillow widens
  the filter when it shrinks, so a large photo is averaged, not subsampled); the aspect ratio is not kept.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np

#: The formats explained, in Pillow's names, and the suffixes a folder's files are picked by (case-insensitive).
IMAGE_FORMATS = ("PNG", "JPEG")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Pillow's resampling filter that resizes an image to the model's input.
RESAMPLING = "bicubic"
#: The colour transparent pixels are composited onto.
BACKGROUND = (255, 255, 255)


class ImageFileError(ValueError):
    """An image file that cannot be explained (unreadable, truncated, not a PNG or JPEG, an empty folder, two files
    of one name); the message names the file."""


@contextlib.contextmanager
def _opened(path: pathlib.Path) -> Iterator[Any]:
    """``path`` opened and decoded by Pillow; any failure of the block is an :class:`ImageFileError` naming it."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        with Image.open(path) as image:
            if image.format not in IMAGE_FORMATS:
                raise ImageFileError(f"{path}: a {image.format} image; only PNG and JPEG files are explained")
            image.load()
            yield image
    except ImageFileError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageFileError(f"{path}: not a readable PNG or JPEG image (truncated, corrupt or another kind of file: "
                             f"{type(error).__name__}: {error})") from error


def check_image_file(path: str | os.PathLike) -> None:
    """Open and decode ``path`` once.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ImageFileError
        It is not a PNG or JPEG file, or it is unreadable, truncated or corrupt; the message names the file.
    """
    with _opened(pathlib.Path(path)):
        pass


def find_image_files(paths: Sequence[str | os.PathLike]) -> List[pathlib.Path]:
    """The image files ``paths`` name, each checked by :func:`check_image_file`.

    Parameters
    ----------
    paths : sequence of path
        PNG or JPEG files, or folders: a folder stands for its files ending in :data:`IMAGE_SUFFIXES` (any case; not
        hidden files, not its sub-folders), in sorted order.

    Returns
    -------
    list of pathlib.Path
        In the order given, a file named twice taken once. Each file's name without its suffix (its stem) is unique:
        it names the file's outputs.

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    ImageFileError
        No path given, a folder without PNG or JPEG files, a file :func:`check_image_file` refuses, or two files of
        one stem (``a/cat.png`` and ``b/cat.jpg``).
    """
    if isinstance(paths, (str, os.PathLike)) or len(paths) == 0:
        raise ImageFileError(f"paths must be a non-empty list of image files or folders, got {paths!r}")
    found: List[pathlib.Path] = []
    for given in map(pathlib.Path, paths):
        if given.is_dir():
            files = sorted(child for child in given.iterdir() if child.is_file() and not child.name.startswith(".")
                           and child.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise ImageFileError(f"{given}: the folder holds no PNG or JPEG file ({', '.join(IMAGE_SUFFIXES)}; "
                                     f"sub-folders are not searched)")
            found += files
        else:
            found.append(given)
    unique: Dict[pathlib.Path, pathlib.Path] = {}
    stems: Dict[str, pathlib.Path] = {}
    for path in found:
        resolved = path.resolve()
        if resolved in unique:
            continue
        check_image_file(path)
        if path.stem in stems:
            raise ImageFileError(f"{stems[path.stem]} and {path} have the same name {path.stem!r}, which names their "
                                 f"outputs; rename one")
        unique[resolved], stems[path.stem] = path, path
    return list(unique.values())


def _rgb(image: Any) -> Any:
    """``image`` (a PIL image of any mode) as RGB, 16-bit greyscale scaled to 8 bits and transparency composited
    onto :data:`BACKGROUND`."""
    from PIL import Image

    if image.mode.startswith("I"):  # 16-bit greyscale PNG ("I;16", or "I" in older Pillow): Pillow would clip it
        scaled = np.rint(np.asarray(image, dtype=np.float64) * (255.0 / 65535.0))
        image = Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8))
    if "A" in image.mode or "a" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba).convert("RGB")
    return image.convert("RGB")


def read_image_file(path: str | os.PathLike, size: Tuple[int, int]) -> np.ndarray:
    """The image in ``path`` as a model's input: RGB uint8 (height, width, 3) (see the module docstring).

    Parameters
    ----------
    path : path
        A PNG or JPEG file of any size and mode.
    size : (int, int)
        The model's input (height, width).

    Raises
    ------
    FileNotFoundError, ImageFileError
        As :func:`check_image_file`; ``size`` is not two positive ints (a ``ValueError``).
    """
    from PIL import Image, ImageOps

    if len(size) != 2 or not all(isinstance(side, (int, np.integer)) and side >= 1 for side in size):
        raise ValueError(f"size must be (height, width) of positive ints, got {size!r}")
    height, width = size
    with _opened(pathlib.Path(path)) as image:
        rgb = _rgb(ImageOps.exif_transpose(image))
        resized = rgb.resize((int(width), int(height)), resample=Image.Resampling[RESAMPLING.upper()])
    return np.asarray(resized, dtype=np.uint8)
