"""The engine the Ask page runs in Pyodide: lookup and derive without numpy, PyYAML or jsonschema.

Pyodide's base distribution ships none of them, so the page imports matident
with those modules absent and reads the catalogue and its index from a
pickle written while the docs are built.  This test does the same in a
subprocess whose import system refuses them, and compares the answers with
those of the normal package.
"""
from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BLOCKED = ("numpy", "yaml", "_yaml", "jsonschema", "sympy")


def test_lookup_and_derive_run_without_numpy_yaml_jsonschema(tmp_path):
    import matident
    from matident.index import shipped_index
    snapshot = tmp_path / "snapshot.pickle"
    snapshot.write_bytes(pickle.dumps((matident.catalogue(), shipped_index()), protocol=5))
    script = textwrap.dedent(f"""
        import pickle, sys
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Refuse())
        from matident.match import lookup
        from matident.derive import derive
        cat, index = pickle.loads(open({str(snapshot)!r}, "rb").read())
        print([m.identity.id for m in lookup("tr(A @ X @ B)", "X", catalogue=index)][0])
        print(derive("log(x.T @ A @ x)", "x", symbols={{"A": "spd n"}}, catalogue=cat, check=False).text)
        try:                  # the check needs numpy: without it, a clear error, not an ImportError
            derive("log(x.T @ A @ x)", "x", symbols={{"A": "spd n"}}, catalogue=cat)
        except Exception as exc:
            assert type(exc).__name__ == "DeriveError" and "check=False" in str(exc), exc
        print(sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    top, derived, imported = proc.stdout.splitlines()
    assert top == matident.lookup("tr(A @ X @ B)", "X")[0].identity.id == "trace-axb-derivative"
    assert derived == matident.derive("log(x.T @ A @ x)", "x", symbols={"A": "spd n"}).text
    assert imported == "[]"
