"""Random matrix-valued expressions of a square X: derive's vec-Jacobian against finite differences.

The expressions are composed here at random (numpy-style: @, *, +, .T, tanh, sigmoid,
inv of a shifted matrix, traces times matrices), not written by hand; every
Jacobian derive returns is compared with central differences of vec F computed by
the numpy evaluator.  No false result is allowed; refusals (no rule) are counted.
"""
import numpy as np
import pytest

from matident.derive import derive
from matident.errors import DeriveError
from matident.evaluate import EvaluationError, evaluate
from matident.printing import to_text
from matident import expr as E

N_EXPRESSIONS = 120
SYMBOLS = {"X": "matrix n n", "A": "matrix n n", "B": "matrix n n", "C": "matrix n n", "s": "scalar"}


def random_expression(rng, depth):
    if depth == 0 or rng.random() < 0.2:
        return E.sym(str(rng.choice(["X", "X", "A", "B"])))
    kind = int(rng.integers(0, 10))
    f = random_expression(rng, depth - 1)
    if kind == 0:
        return E.matmul(E.sym(str(rng.choice(["A", "B"]))), f)
    if kind == 1:
        return E.matmul(f, E.sym(str(rng.choice(["B", "C"]))))
    if kind == 2:
        return E.transpose(f)
    if kind == 3:
        return E.mul(f, E.sym("C"))
    if kind == 4:
        return E.call(str(rng.choice(["tanh", "sigmoid"])), f)
    if kind == 5:
        return E.call("inv", E.add(f, E.mul(E.num(4), E.identity())))
    if kind == 6:
        return E.matmul(f, random_expression(rng, depth - 1))
    if kind == 7:
        return E.add(f, random_expression(rng, depth - 1))
    if kind == 8:
        return E.mul(E.call("tr", E.matmul(E.sym("A"), f)), E.sym("B"))
    return E.mul(E.sym("s"), f)


def _expressions():
    rng = np.random.default_rng(2026)
    out, seen = [], set()
    while len(out) < N_EXPRESSIONS:
        e = random_expression(rng, 3)
        if e.has("X") and e != E.sym("X") and e not in seen:
            seen.add(e)
            out.append(e)
    return out


def _fd_ok(d, rng):
    n = 3
    sizes = {"n": n}
    for _ in range(20):
        values = {name: rng.standard_normal((n, n)) * 0.5 for name in ("X", "A", "B", "C")}
        values["s"] = np.array([[1.3]])
        try:
            jac = evaluate(d.result_expr, values, sizes)
            cols = []
            for k in range(n * n):
                v = np.zeros(n * n)
                v[k] = 1.0
                v = v.reshape(n, n, order="F")
                h = 1e-5
                plus = evaluate(d.expr, {**values, "X": values["X"] + h * v}, sizes)
                minus = evaluate(d.expr, {**values, "X": values["X"] - h * v}, sizes)
                cols.append(((plus - minus) / (2 * h)).reshape(-1, order="F"))
        except EvaluationError:
            continue
        fd = np.array(cols).T
        return np.linalg.norm(jac - fd) <= 1e-6 * max(1.0, np.linalg.norm(fd)), np.linalg.norm(jac - fd)
    pytest.skip("no valid instance")


def test_random_matrix_valued_expressions_have_right_jacobians():
    rng = np.random.default_rng(0)
    refused, wrong = [], []
    for e in _expressions():
        try:
            d = derive(e, "X", symbols=SYMBOLS)
        except DeriveError as exc:
            refused.append((to_text(e), str(exc)))
            continue
        ok, err = _fd_ok(d, rng)
        if not ok:
            wrong.append((to_text(e), d.text, err))
    assert not wrong, wrong[:3]
    assert len(refused) <= 0.03 * N_EXPRESSIONS, refused[:5]
