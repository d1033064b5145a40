"""figures/index.md's settings block says which settings made the committed figures: it must be the settings of the
profile it names today (``dataclasses.asdict(get_profile(name))``, with the command line's overrides), key by key.

When a profile changes (a new field, a new value), the committed figures predate it: regenerate them with the
command recorded in the index (``python -m drise_tf figures --profile <name>``), do not edit the index by hand.
"""
from __future__ import annotations

import ast
import dataclasses
import pathlib
import re
import shlex
from typing import Any, Dict, List, Tuple

import pytest

from drise_tf.reproduction.profiles import get_profile

ROOT = pathlib.Path(__file__).resolve().parents[2]
INDEX = ROOT / "figures" / "index.md"
#: Keys of the settings block that are not profile fields (FigureBook's settings: the data source, then the profile).
NOT_PROFILE = {"data"}
#: Command-line options that override a profile field (``reproduce`` / ``figures``), as the index records them.
OVERRIDES = {"--seed": "seed", "--epochs": "epochs"}


def _code_block_after(lines: List[str], heading: str) -> List[str]:
    """The lines of the first fenced code block after the line ``heading``."""
    start = lines.index(heading)
    opening = next(k for k in range(start + 1, len(lines)) if lines[k].startswith("```"))
    closing = next(k for k in range(opening + 1, len(lines)) if lines[k].startswith("```"))
    return lines[opening + 1 : closing]


def parse_index(text: str) -> Tuple[str, Dict[str, Any]]:
    """The command and the settings of an ``index.md`` written by :meth:`FigureBook.write_index`."""
    lines = text.splitlines()
    command = " ".join(_code_block_after(lines, "Made by:")).strip()
    settings: Dict[str, Any] = {}
    for line in _code_block_after(lines, "Settings (data source and profile):"):
        match = re.fullmatch(r"(\w+) = (.*)", line)
        assert match, f"settings line {line!r} is not 'key = repr(value)'"
        key, value = match.groups()
        assert key not in settings, f"setting {key!r} appears twice"
        settings[key] = ast.literal_eval(value)
    return command, settings


def expected_settings(command: str, name: str) -> Dict[str, Any]:
    """The profile ``name`` as a dict, with the overrides the recorded command passed."""
    words = shlex.split(command)
    changes = {field: type(getattr(get_profile(name), field))(words[k + 1])
               for k, word in enumerate(words[:-1]) for option, field in OVERRIDES.items() if word == option}
    return dataclasses.asdict(get_profile(name).replace(**changes))


def differences(recorded: Dict[str, Any], expected: Dict[str, Any]) -> List[str]:
    """One line per key that is missing on either side or has another value."""
    lines = []
    for key in sorted(set(recorded) | set(expected)):
        if key not in recorded:
            lines.append(f"{key}: missing in the index (profile: {expected[key]!r})")
        elif key not in expected:
            lines.append(f"{key}: in the index ({recorded[key]!r}) but not a field of the profile")
        elif recorded[key] != expected[key]:
            lines.append(f"{key}: index {recorded[key]!r}, profile {expected[key]!r}")
    return lines


def test_parse_index_reads_what_figurebook_writes(tmp_path):
    from drise_tf.plotting.figure_sets import FigureBook

    profile = get_profile("tiny").replace(seed=3)
    settings = {"data": "x.npz", **dataclasses.asdict(profile)}
    book = FigureBook(tmp_path, "python -m drise_tf figures --profile tiny --seed 3", settings)
    command, parsed = parse_index(book.write_index().read_text())
    assert command == "python -m drise_tf figures --profile tiny --seed 3" and parsed == settings
    recorded = {k: v for k, v in parsed.items() if k not in NOT_PROFILE}
    assert differences(recorded, expected_settings(command, "tiny")) == []  # the --seed override is applied
    changed = dict(recorded, width=99, extra=1)
    del changed["epochs"]
    assert differences(changed, expected_settings(command, "tiny")) == [
        "epochs: missing in the index (profile: 1)", "extra: in the index (1) but not a field of the profile",
        "width: index 99, profile None"]


def test_figures_index_settings_match_the_profile_that_made_them():
    if not INDEX.is_file():
        pytest.skip(f"{INDEX} does not exist")
    command, settings = parse_index(INDEX.read_text(encoding="utf-8"))
    name = settings.get("name")
    assert name, "the settings block names no profile ('name = ...')"
    match = re.search(r"--profile[ =](\S+)", command)
    assert match is None or match.group(1) == name, f"the command {command!r} and the settings ({name!r}) disagree"
    recorded = {key: value for key, value in settings.items() if key not in NOT_PROFILE}
    wrong = differences(recorded, expected_settings(command, name))
    assert not wrong, (f"{INDEX.relative_to(ROOT)} was made with other settings than the {name!r} profile has now; "
                       f"regenerate the figures (`{command}`):\n" + "\n".join(wrong))
