"""The façade as static tools see it: Jedi (Spyder's completion, calltips and Help) must find every public name.

``drise_tf/__init__.py`` loads its names lazily (``_EXPORTS`` and a module ``__getattr__``), which static tools
cannot follow; an ``if TYPE_CHECKING:`` block names them again for them. These tests check that both lists agree,
that Jedi offers and signs the names, and that ``import drise_tf`` still leaves TensorFlow unimported.
"""
from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import pytest

import drise_tf

jedi = pytest.importorskip("jedi")

INIT = pathlib.Path(drise_tf.__file__)
REPO_ROOT = INIT.parents[1]


def _type_checking_exports(source: str) -> Dict[str, Tuple[str, Optional[str]]]:
    """The names the ``if TYPE_CHECKING:`` block of ``source`` imports, in the form of ``_EXPORTS``.

    Parameters
    ----------
    source : str
        The text of ``drise_tf/__init__.py`` (or of a room's lazy ``__init__.py``).

    Returns
    -------
    dict
        name -> (module, attribute in it; None for ``import module as name``).
    """
    blocks = [node for node in ast.parse(source).body
              if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"]
    assert len(blocks) == 1, "a lazy __init__.py needs exactly one top-level `if TYPE_CHECKING:` block"
    names: Dict[str, Tuple[str, Optional[str]]] = {}
    for statement in blocks[0].body:
        assert isinstance(statement, (ast.Import, ast.ImportFrom)), f"not an import: {ast.dump(statement)}"
        for alias in statement.names:
            if isinstance(statement, ast.Import):
                assert alias.asname, f"`import {alias.name}` needs `as <name>`"
                target = (alias.name, None)
            else:
                target = (statement.module, alias.name)
            name = alias.asname or alias.name
            assert name not in names, f"{name} imported twice"
            names[name] = target
    return names


def _script(code: str) -> "jedi.Script":
    """A Jedi script over ``code`` as if it were a file at the repository root, run in this interpreter."""
    return jedi.Script(code, path=str(REPO_ROOT / "snippet.py"), project=jedi.Project(path=str(REPO_ROOT)),
                       environment=jedi.InterpreterEnvironment())


def _signature_params(code: str) -> List[List[str]]:
    """The parameter names of every signature Jedi offers at the end of ``code`` (a call left open)."""
    lines = code.splitlines()
    return [[param.name for param in signature.params]
            for signature in _script(code).get_signatures(len(lines), len(lines[-1]))]


@pytest.mark.parametrize("package", [drise_tf, drise_tf.data], ids=["drise_tf", "drise_tf.data"])
def test_type_checking_block_names_exactly_the_exports(package):
    assert _type_checking_exports(pathlib.Path(package.__file__).read_text(encoding="utf-8")) == package._EXPORTS
    assert set(package.__all__) == set(package._EXPORTS)
    assert [name for name in package.__all__ if not hasattr(package, name)] == []


def test_the_checker_sees_a_missing_or_wrong_name():
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
              "    import drise_tf.data as data\n    from drise_tf.explain import DRise, masks\n")
    assert _type_checking_exports(source) == {
        "data": ("drise_tf.data", None), "DRise": ("drise_tf.explain", "DRise"), "masks": ("drise_tf.explain", "masks")}


@pytest.mark.parametrize("code, expected", [
    ("from drise_tf import DRise\nDRise(", {"model", "n_masks", "grid_size"}),
    ("import drise_tf\ndrise_tf.DRise(", {"model", "n_masks", "grid_size"}),
    ("from drise_tf import DRise\nDRise.thesis(", {"model", "overrides"}),
    ("from drise_tf import load_run\nload_run(", {"run_dir"}),
    ("from drise_tf import make_explainer\nmake_explainer(", {"name", "model"}),
])
def test_jedi_shows_signatures(code: str, expected: set):
    signatures = _signature_params(code)
    assert signatures, f"no signature for {code!r}"
    assert expected <= set(signatures[0]), signatures


def test_jedi_completes_every_facade_name():
    offered = {completion.name for completion in _script("import drise_tf\ndrise_tf.").complete(2, len("drise_tf."))}
    assert set(drise_tf.__all__) - offered == set()


def test_jedi_completes_a_prefix():
    offered = [completion.name for completion in _script("import drise_tf\ndrise_tf.DR").complete()]
    assert "DRise" in offered


def test_import_leaves_tensorflow_unimported():
    probe = "import sys, drise_tf; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
