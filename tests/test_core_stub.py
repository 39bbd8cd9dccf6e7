"""runtime/_core.pyi describes the compiled module exactly: same functions, same Plan members."""
import ast
import inspect
from pathlib import Path

from runtime import _core

STUB = Path(__file__).resolve().parent.parent / "runtime" / "_core.pyi"


def _stub_names():
    tree = ast.parse(STUB.read_text())
    funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    classes = {n.name: {m.name for m in n.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("__")}
               for n in tree.body if isinstance(n, ast.ClassDef)}
    return funcs, classes


def _public(obj):
    return {n for n in dir(obj) if not n.startswith("_")}


def test_stub_lists_every_module_function():
    funcs, classes = _stub_names()
    module = {n for n in _public(_core) if not inspect.isclass(getattr(_core, n))}
    assert funcs == module
    assert set(classes) == {n for n in _public(_core) if inspect.isclass(getattr(_core, n))}


def test_stub_lists_every_plan_member():
    _, classes = _stub_names()
    assert classes["Plan"] == _public(_core.Plan)
