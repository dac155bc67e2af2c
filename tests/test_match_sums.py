"""Lookup of a sum answers for the whole sum, term by term (linearity), checked numerically.

The combined answer is judged outside matident: its text is read by Python
with numpy arrays for the symbols (the expression language writes numpy's
``@``, ``.T``, ``*``, ``+``) and compared with central differences of the sum
computed by numpy.  Work is counted, never timed.
"""
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import matident
from matident.match import SumMatch, lookup

ROOT = Path(__file__).resolve().parent.parent


def trace_sum(n):
    return " + ".join(f"tr(A{i} @ X)" for i in range(1, n + 1))


def combined(found):
    whole = [m for m in found if isinstance(m, SumMatch)]
    assert len(whole) <= 1
    return whole[0] if whole else None


def numpy_value(text, env):
    """``text`` (matident's output, numpy-style) evaluated by Python over numpy arrays."""
    return eval(text, {"__builtins__": {}}, env)       # our own output, in a test: no user text


N = 4


def _env(rng, names):
    env = {"I": np.eye(N), "tr": np.trace, "lam": float(rng.normal())}
    for name in names:
        env[name] = rng.normal(size=(N, 1) if name.islower() else (N, N))
    return env


# (query, wrt, numpy function of the environment)
CASES = [
    (trace_sum(8), "X", lambda e: sum(np.trace(e[f"A{i}"] @ e["X"]) for i in range(1, 9))),
    ("tr(A1 @ X) + tr(A2 @ X) + 2 * tr(A3 @ X.T) - 3 * tr(B @ X)", "X",
     lambda e: np.trace(e["A1"] @ e["X"]) + np.trace(e["A2"] @ e["X"]) + 2 * np.trace(e["A3"] @ e["X"].T)
     - 3 * np.trace(e["B"] @ e["X"])),
    ("tr(X.T @ X) + lam * tr(X)", "X", lambda e: np.trace(e["X"].T @ e["X"]) + e["lam"] * np.trace(e["X"])),
    ("x.T @ A @ x + a.T @ x + 3", "x", lambda e: (e["x"].T @ e["A"] @ e["x"] + e["a"].T @ e["x"]).item() + 3),
    ("a.T @ x - x.T @ x + tr(A)", "x", lambda e: (e["a"].T @ e["x"] - e["x"].T @ e["x"]).item() + np.trace(e["A"])),
]


@pytest.mark.parametrize("text,wrt,fn", CASES, ids=[c[0][:30] for c in CASES])
def test_the_whole_sum_answer_equals_finite_differences_of_the_sum(text, wrt, fn):
    found = lookup(text, wrt, symbols={"lam": "scalar"} if "lam" in text else None)
    m = combined(found)
    assert m is not None and found[0] is m and m.checked == "passed", str(found)
    assert m.whole and m.as_dict()["kind"] == "derivative" and not m.conditions
    rng = np.random.default_rng(7)
    names = {n for n in matident.match.Query(text).decls if n != "lam"}
    for _ in range(3):
        env = _env(rng, names)
        grad = np.asarray(numpy_value(str(m.as_dict()["result"]), env), dtype=float)
        v = rng.normal(size=env[wrt].shape)
        h = 1e-6
        plus, minus = dict(env), dict(env)
        plus[wrt], minus[wrt] = env[wrt] + h * v, env[wrt] - h * v
        fd = (fn(plus) - fn(minus)) / (2 * h)
        assert abs(np.sum(grad * v) - fd) <= 1e-6 * max(1.0, abs(fd)), (text, m.as_dict()["result"])


def test_the_whole_sum_cites_linearity_and_every_terms_record():
    m = combined(lookup("tr(A1 @ X) + tr(A2 @ X) + 2 * tr(A3 @ X.T) + det(B)", "X"))
    d = m.as_dict()
    assert d["id"] == "differential-sum" and d["result"] == "2 * A3 + A1.T + A2.T"
    assert [(t["term"], t["target"], t["id"]) for t in d["terms"]] == [
        (1, "tr(A1 @ X)", "trace-xa-derivative"), (2, "tr(A2 @ X)", "trace-xa-derivative"),
        (3, "2 * tr(A3 @ X.T)", "trace-xta-derivative")]
    assert d["constant_terms"] == [4]
    assert "term by term: trace-xa-derivative (terms 1-2), trace-xta-derivative (term 3)" in str(m)
    assert m.latex().startswith(r"\frac{\partial}{\partial X}")


def test_no_whole_answer_when_a_term_has_none():
    # log(det(X)) is answered only with a condition (X invertible): no unconditional whole answer
    found = lookup("tr(A @ X) + log(det(X)) - tr(X)", "X")
    assert combined(found) is None and found
    assert combined(lookup(trace_sum(4), None)) is None              # no variable: no derivative


@pytest.mark.parametrize("n", [8, 16, 32])
def test_a_long_sum_answers_completely_within_the_counted_budget(n):
    found = lookup(trace_sum(n), "X")
    m = combined(found)
    assert found.complete and m is not None and len(m.parts) == n
    assert m.as_dict()["result"] == " + ".join(sorted((f"A{i}.T" for i in range(1, n + 1)), key=str))
    exact = lookup(trace_sum(n), "X", budget=found.steps)          # the steps counted suffice
    assert exact.complete and combined(exact) is not None
    short = lookup(trace_sum(n), "X", budget=found.steps - 1)
    assert not short.complete and combined(short) is None


def test_the_work_on_the_whole_sum_grows_linearly():
    steps = {n: lookup(trace_sum(n), "X").steps for n in (8, 16, 32)}
    assert steps[16] <= 2.2 * steps[8] and steps[32] <= 2.2 * steps[16], steps


def test_a_whole_sum_answer_that_fails_its_check_is_not_returned():
    # a deliberately wrong gradient of tr(A @ X) (A instead of A.T) with the linearity record
    cat = matident.load([ROOT / "identities" / "differentials.yaml",
                         ROOT / "tests" / "fixtures" / "wrong" / "transpose.yaml"])
    square = {name: "matrix n n" for name in ("X", "A1", "A2", "A3")}   # the wrong record's sizes
    found = lookup(trace_sum(3), "X", catalogue=cat, symbols=square)
    assert any(m.identity.id == "wrong-trace-ax-gradient-transposed" for m in found)
    assert combined(found) is None
    assert found.notes and "failed its numeric check" in found.notes[0]
    assert "failed its numeric check" in str(found)
    unchecked = combined(lookup(trace_sum(3), "X", catalogue=cat, symbols=square, check=False))
    assert unchecked.checked == "not run" and "not checked numerically" in str(unchecked)


def test_whole_sum_answers_are_identical_across_runs():
    code = ("import json, sys; from matident.match import lookup\n"
            "r = lookup(sys.argv[1], 'X')\n"
            "print(json.dumps([[str(m), m.as_dict()] for m in r] + [r.steps]))")
    text = "tr(A1 @ X) + 2 * tr(A2 @ X.T) + " + trace_sum(10).replace("A", "B")
    outs = []
    for seed in ("1", "2"):
        proc = subprocess.run([sys.executable, "-c", code, text], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
    here = lookup(text, "X")
    assert json.loads(outs[0]) == [[str(m), m.as_dict()] for m in here] + [here.steps]
    assert isinstance(here[0], SumMatch)


def test_without_numpy_the_whole_sum_is_left_out_unless_asked_unchecked(tmp_path):
    # as in the browser (tests/test_docs_ask_engine.py): the index from a pickle, numpy refused
    from matident.index import shipped_index
    snapshot = tmp_path / "index.pickle"
    snapshot.write_bytes(pickle.dumps(shipped_index(), protocol=5))
    script = textwrap.dedent(f"""
        import pickle, sys
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "numpy":
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Refuse())
        from matident.match import SumMatch, lookup
        index = pickle.loads(open({str(snapshot)!r}, "rb").read())
        q = "tr(A1 @ X) + tr(A2 @ X) + tr(A3 @ X)"
        r = lookup(q, "X", catalogue=index)
        print(any(isinstance(m, SumMatch) for m in r), r.notes[0])
        m = lookup(q, "X", catalogue=index, check=False)[0]
        print(type(m).__name__, m.checked, m.as_dict()["result"])
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "MATIDENT_CACHE_DIR": "off"})
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first.startswith("False ") and "needs numpy for its check" in first
    assert second == "SumMatch not run A1.T + A2.T + A3.T"


def test_a_conditional_record_for_the_whole_sum_comes_after_the_unconditional_term_by_term_answer():
    # ridge-gradient answers the whole sum provided lam is positive; term by term needs nothing
    found = lookup("norm(A @ x - b) ** 2 + lam * norm(x) ** 2", "x", symbols={"lam": "scalar"})
    m = combined(found)
    assert found[0] is m and m.checked == "passed"
    assert found[1].identity.id == "ridge-gradient" and found[1].conditions
    assert combined(lookup("a.T @ x + x.T @ x", "x")) is None     # a record answers it unconditionally
