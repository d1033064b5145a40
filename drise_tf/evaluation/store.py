"""A resumable store of per-image results: one file per chunk of images, each written atomically (a temporary file,
then a rename), and the settings they were computed with. A run killed at any moment leaves whole chunks only; a
resumed run skips them and refuses other settings.

Chunks are gzip-compressed JSON (``chunk-<start>.json.gz``, a tenth of the plain size, the same bytes for the same
records), so that a finished results folder can be kept in a repository beside its report; plain ``.json`` chunks
of older runs are read too."""
from __future__ import annotations

import gzip
import json
import os
import pathlib
import re
from typing import Any, Dict, List, Mapping, Tuple

from drise_tf.core.compat import write_bytes_atomic, write_json_atomic

SETTINGS_FILE = "settings.json"
CHUNKS_FOLDER = "chunks"
_CHUNK = re.compile(r"^chunk-(\d{6})\.json(\.gz)?$")


class SettingsMismatchError(ValueError):
    """A resumed run was asked for other settings than the results already stored."""


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    flat: Dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ResultStore:
    """The results folder of one evaluation run.

    Parameters
    ----------
    folder : path
        Created if needed.
    settings : dict
        JSON-serialisable settings of the run (nested dicts allowed).
    resume : bool
        Continue a run whose folder already holds results; its stored settings must equal ``settings``.
    read_only : bool
        Read what is finished but never write (the workers of a multi-worker run other than the chief).

    Raises
    ------
    SettingsMismatchError
        ``resume`` with different settings (the message names the first differing setting).
    ValueError
        The folder holds results and ``resume`` is False.
    """

    def __init__(self, folder: str | os.PathLike, settings: Mapping[str, Any], *, resume: bool = False,
                 read_only: bool = False) -> None:
        self.folder = pathlib.Path(folder)
        self.read_only = read_only
        self.settings = json.loads(json.dumps(settings))  # what a JSON round trip gives (tuples become lists)
        settings_path = self.folder / SETTINGS_FILE
        if settings_path.is_file():
            with open(settings_path, encoding="utf-8") as stream:
                stored = json.load(stream)
            if not resume:
                if self.finished():
                    raise ValueError(f"results folder {self.folder} already holds results of a run: pass resume=True "
                                     f"(--resume) to continue it, or choose another folder")
            else:
                self._check_same(stored)
        elif resume and self.folder.exists() and any(self.folder.iterdir()):
            raise ValueError(f"cannot resume {self.folder}: it has no {SETTINGS_FILE} (not a results folder)")
        if not read_only:
            write_json_atomic(settings_path, self.settings)

    def _check_same(self, stored: Mapping[str, Any]) -> None:
        old, new = _flatten(stored), _flatten(self.settings)
        for key in sorted(set(old) | set(new)):
            if old.get(key, "<absent>") != new.get(key, "<absent>"):
                raise SettingsMismatchError(
                    f"cannot resume {self.folder}: setting {key!r} was {_short(old.get(key, '<absent>'))} in the "
                    f"stored run, now {_short(new.get(key, '<absent>'))}; resume with the same settings or start a "
                    f"new folder")

    def finished(self) -> List[int]:
        """First positions of the chunks stored so far, sorted."""
        return finished_chunks(self.folder)

    def write(self, start: int, records: List[Dict[str, Any]]) -> str:
        """Store the records of the chunk that begins at position ``start``, atomically."""
        if self.read_only:
            raise ValueError(f"this store of {self.folder} is read-only (a worker that is not the chief)")
        text = json.dumps({"start": start, "records": records}) + "\n"
        return write_bytes_atomic(self.folder / CHUNKS_FOLDER / f"chunk-{start:06d}.json.gz",
                                  gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def _chunk_paths(folder: str | os.PathLike) -> Dict[int, pathlib.Path]:
    """First position -> file of every chunk stored in a results folder (gzip-compressed or plain JSON)."""
    chunks = pathlib.Path(folder) / CHUNKS_FOLDER
    if not chunks.is_dir():
        return {}
    return {int(match.group(1)): chunks / match.group(0) for match in map(_CHUNK.match, sorted(os.listdir(chunks)))
            if match}


def finished_chunks(folder: str | os.PathLike) -> List[int]:
    """First positions of the chunks stored in a results folder, sorted."""
    return sorted(_chunk_paths(folder))


def require_same_model(first: Mapping[str, Any] | str | os.PathLike,
                       second: Mapping[str, Any] | str | os.PathLike) -> None:
    """Refuse to pair images of two runs of different models.

    Parameters
    ----------
    first, second : dict or path
        The settings of two evaluation runs, or their results folders (their ``settings.json`` is read).

    Raises
    ------
    ValueError
        Both settings name a model fingerprint (``"model"``) and they differ: per-image differences would not be
        paired measurements of one model. A run without a fingerprint is let through (nothing to tell).
    """
    fingerprints = []
    for run in (first, second):
        settings = run if isinstance(run, Mapping) else read_settings(run)
        fingerprints.append(settings.get("model"))
    if None not in fingerprints and fingerprints[0] != fingerprints[1]:
        names = "" if isinstance(first, Mapping) else f" ({first}, {second})"
        raise ValueError(
            f"the two runs{names} explained different models (model fingerprints {str(fingerprints[0])[:12]}... "
            f"and {str(fingerprints[1])[:12]}...): the images' values come from different models, so differences "
            f"per image are not paired measurements of one model; compare the networks' orders of the variants "
            f"instead (evaluation.compare_networks, python -m drise_tf compare-networks)")


def read_settings(folder: str | os.PathLike) -> Dict[str, Any]:
    """The settings of a results folder, without reading its records."""
    path = pathlib.Path(folder) / SETTINGS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not an evaluation results folder: it has no {SETTINGS_FILE}")
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def read_records(folder: str | os.PathLike) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The settings and every record of a results folder, chunk by chunk in order (read-only)."""
    folder = pathlib.Path(folder)
    settings = read_settings(folder)
    records: List[Dict[str, Any]] = []
    for _, path in sorted(_chunk_paths(folder).items()):
        with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as stream:
            records.extend(json.load(stream)["records"])
    return settings, records
