"""Per-channel standardisation of CIFAR-10 images, fitted on the training split and saved with every run."""
from __future__ import annotations

import json
import math
import os
from typing import Any, Tuple

import numpy as np

from drise_tf.core.compat import write_text_atomic


# ------------------------------------------------------------------------------------------ standardisation
class Standardizer:
    """Per-channel standardisation ``(x / 255 - mean) / std``, with statistics from the training split only.

    Parameters
    ----------
    mean, std : array-like of 3 floats
        Per-channel mean and standard deviation of ``x / 255``; ``std`` must be positive.
    """

    SCALE = 255.0

    def __init__(self, mean: Any, std: Any) -> None:
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if self.mean.shape != (3,) or self.std.shape != (3,):
            raise ValueError(f"mean and std need 3 values (RGB), got {self.mean.shape} and {self.std.shape}")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std)) and np.all(self.std > 0)):
            raise ValueError(f"mean must be finite and std positive, got mean {self.mean}, std {self.std}")

    def __repr__(self) -> str:
        return f"Standardizer(mean={self.mean.tolist()}, std={self.std.tolist()})"

    @staticmethod
    def _check_uint8(x: Any, name: str) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.uint8:
            raise ValueError(f"{name} must be uint8 images 0..255, got dtype {x.dtype}")
        if x.ndim not in (3, 4) or x.shape[-1] != 3:
            raise ValueError(f"{name} must have shape (N, H, W, 3) or (H, W, 3), got {x.shape}")
        return x

    @classmethod
    def fit(cls, x_uint8: Any) -> "Standardizer":
        """Per-channel mean and (population) std of ``x_uint8 / 255``, exact (from a histogram of pixel values)."""
        x = cls._check_uint8(x_uint8, "x_uint8")
        levels = np.arange(256, dtype=np.float64) / cls.SCALE
        mean, std = [], []
        for channel in range(3):
            counts = np.bincount(x[..., channel].ravel(), minlength=256).astype(np.float64)
            mu = counts @ levels / counts.sum()
            mean.append(mu)
            std.append(math.sqrt(counts @ (levels - mu) ** 2 / counts.sum()))
        if min(std) == 0:
            raise ValueError(f"x_uint8 has a constant channel (std {std}); cannot standardise")
        return cls(mean, std)

    def transform(self, x: Any) -> np.ndarray:
        """``(x / 255 - mean) / std`` as float32, for uint8 ``(N, H, W, 3)`` or ``(H, W, 3)`` images."""
        out = self._check_uint8(x, "x").astype(np.float32)
        out /= np.float32(self.SCALE)
        out -= self.mean
        out /= self.std
        return out

    def to_uint8(self, x_std: Any) -> np.ndarray:
        """Invert :meth:`transform`: back to uint8 pixels (rounded, clipped to 0..255), e.g. for plots."""
        x = np.asarray(x_std, dtype=np.float32)
        if x.ndim not in (3, 4) or x.shape[-1] != 3:
            raise ValueError(f"x_std must have shape (N, H, W, 3) or (H, W, 3), got {x.shape}")
        pixels = (x * self.std + self.mean) * np.float32(self.SCALE)
        return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)

    def bounds(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per-channel (low, high) of standardised pixels 0..255: the valid input range (attacks, visualisation)."""
        return (0.0 - self.mean) / self.std, (1.0 - self.mean) / self.std

    def save(self, path: str | os.PathLike) -> str:
        """Write ``{"mean": [...], "std": [...], "scale": 255.0}`` to ``path`` atomically; return the path."""
        text = json.dumps({"mean": self.mean.tolist(), "std": self.std.tolist(), "scale": self.SCALE}, indent=2)
        return write_text_atomic(path, text + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Standardizer":
        """Read a file written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        ValueError
            ``path`` is not valid JSON or lacks/garbles ``mean``, ``std`` or ``scale``.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"standardizer file {path!r} does not exist")
        try:
            with open(path, encoding="utf-8") as stream:
                content = json.load(stream)
            if content.get("scale") != cls.SCALE:
                raise ValueError(f"scale must be {cls.SCALE}, got {content.get('scale')!r}")
            return cls(content["mean"], content["std"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"standardizer file {path!r} is invalid: {type(exc).__name__}: {exc}") from exc
