"""The package's modules import each other one way: no import circle, not even through an import
inside a function (data flows text -> expression -> match/verify/derive -> output)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "matident"


def imports():
    """module -> the package modules it imports anywhere in its code (the package's __init__,
    its public facade, is left out: it imports everything on demand)."""
    names = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    out = {}
    for name in names:
        deps = set()
        for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        out[name] = deps & names
    return out


def cycles(graph):
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                found.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"
    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circles():
    assert cycles(imports()) == []


def test_the_detector_sees_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_term_tree_imports_nothing_of_the_package():
    graph = imports()
    assert graph["expr"] == set()
    assert "printing" not in graph["shapes"] and "printing" not in graph["simplify"]


def test_verify_loads_no_derive_module_and_matident_derive_stays_the_function():
    """``import matident`` does not load matident.derive (verify, the CI job, does not need it);
    loading it later, as derive() or autodoc do, leaves ``matident.derive`` the function, and
    likewise ``matident.parse`` (its module is loaded when YAML is read)."""
    import subprocess
    import sys
    code = ("import importlib, sys, matident\n"
            "from matident.catalogue import catalogue\n"
            "matident.verify(list(catalogue())[:20])\n"
            "print('matident.derive' in sys.modules)\n"
            "module = importlib.import_module('matident.derive')\n"
            "import matident.derive\n"
            "print(type(matident.derive).__name__, matident.derive is not module, callable(module.derive))\n"
            "from matident import derive\n"
            "print(derive('tr(X)', 'X').text)\n"
            "module = importlib.import_module('matident.parse')\n"
            "print(type(matident.parse).__name__, matident.parse('tr(X)'), module.parse_expr('X').op)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent, timeout=300).stdout.split("\n")
    assert out[:4] == ["False", "function True True", "eye(X)", "function Trace(X) sym"]
