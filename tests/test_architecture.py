"""The rooms of drise_tf import one way (ARCHITECTURE.md): an arrow pointing back up the table is a test failure."""
from __future__ import annotations

import ast
import pathlib

import drise_tf

PACKAGE = pathlib.Path(drise_tf.__file__).parent
#: room -> the rooms it may import from (ARCHITECTURE.md).
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "training": {"core", "data"},
    "explain": {"core"},
    "metrics": {"core", "explain"},
    "plotting": {"core", "data", "explain"},
    "studies": {"core", "data", "training", "explain"},
    "evaluation": {"core", "data", "training", "explain", "metrics", "plotting"},
    "reproduction": {"core", "data", "training", "explain", "metrics", "plotting", "studies", "evaluation"},
    "experiment": {"data", "training", "reproduction"},
    "cli": {"core", "data", "training", "evaluation", "reproduction"},
    "__main__": {"cli"},
}
#: room -> its layer (ARCHITECTURE.md's diagram); ``__main__`` is the entry point above the command line it runs.
LAYERS = {
    "core": 0, "data": 1, "training": 2, "explain": 2, "metrics": 3, "plotting": 3, "studies": 3, "evaluation": 4,
    "reproduction": 5, "experiment": 6, "cli": 6, "__main__": 7,
}
ARCHITECTURE = PACKAGE.parent / "ARCHITECTURE.md"


def _imported_rooms(path: pathlib.Path) -> set:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "drise_tf":
            parts = node.module.split(".")
            rooms |= {alias.name for alias in node.names} if len(parts) == 1 else {parts[1]}
        elif isinstance(node, ast.Import):
            rooms |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("drise_tf.")}
    return rooms


def test_imports_go_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if parts == ("__init__.py",):  # the façade re-exports every room
            continue
        room = parts[0] if len(parts) > 1 else path.stem
        assert room in ALLOWED, f"{path}: room {room!r} is not in ARCHITECTURE.md's table"
        for other in _imported_rooms(path) - {room}:
            if other not in ALLOWED[room]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {other}")
    assert not wrong, "imports against the arrows of ARCHITECTURE.md:\n" + "\n".join(wrong)


def test_rooms_import_only_from_lower_layers_as_the_diagram_draws_them():
    assert set(LAYERS) == set(ALLOWED)
    upward = [f"{room} -> {other}" for room, others in ALLOWED.items() for other in others
              if LAYERS[other] >= LAYERS[room]]
    assert not upward, f"allowed imports that do not go down a layer: {upward}"
    drawn = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        if line.startswith("layer "):
            number, rooms = line.split(None, 2)[1:3]
            for room in rooms.split("  ")[0].split(","):
                drawn[room.strip().removesuffix(".py")] = int(number)
    assert drawn == {room: layer for room, layer in LAYERS.items() if room != "__main__"}


def test_the_checker_sees_a_backward_arrow(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("from drise_tf.reproduction import run\nfrom drise_tf import metrics\n")
    assert _imported_rooms(module) == {"reproduction", "metrics"}


def test_facade_names_exist_and_rooms_have_one_name():
    for name in drise_tf.__all__:
        assert hasattr(drise_tf, name), name
    rooms = {"data", "training", "explain", "metrics", "plotting", "evaluation", "studies", "reproduction"}
    assert rooms <= set(drise_tf.__all__)
    assert all(getattr(drise_tf, room).__name__ == f"drise_tf.{room}" for room in rooms)
