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
    "plotting": {"core", "data"},
    "studies": {"core", "data", "training", "explain"},
    "evaluation": {"core", "data", "training", "explain", "metrics", "plotting"},
    "reproduction": {"core", "data", "training", "explain", "metrics", "plotting", "studies"},
    "experiment": {"data", "training", "reproduction"},
    "cli": {"core", "data", "training", "evaluation", "reproduction"},
    "__main__": {"cli"},
}


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
