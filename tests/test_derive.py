"""matident.derive: the lecture notes' worked examples, the Q&A questions, errors, self-check."""
import json
import subprocess
import sys

import numpy as np
import pytest

import matident
from matident import expr as E
from matident.derive import derive
from matident.errors import DeriveError

from conftest import ROOT

# (expression, wrt, symbols, order, expected result text)
EXAMPLES = [
    # lecture notes, section 3.2.2
    ("x.T @ A @ x - b.T @ x + c", "x", {"c": "scalar"}, 1, "A @ x + A.T @ x - b"),
    ("x.T @ A @ x - b.T @ x + c", "x", {"c": "scalar"}, 2, "A + A.T"),
    ("log(x.T @ A @ x)", "x", {"A": "spd n"}, 1, "2 * A @ x / (x.T @ A @ x)"),
    ("norm(A @ X - B)", "X", None, 1, "A.T @ (A @ X - B) / norm(A @ X - B)"),
    ("tr(S.T @ X) - logdet(X)", "X", {"S": "matrix n n", "X": "matrix n n invertible"}, 1, None),
    ("log(1 + exp(a.T @ x))", "x", None, 1, None),
    ("log(1 + exp(a.T @ x))", "x", None, 2, None),
    # the Q&A page
    ("log(norm(A @ x) ** 2)", "x", {"A": "square n"}, 1, "2 * A.T @ A @ x / norm(A @ x) ** 2"),
    ("x.T @ A @ x", "x", None, 1, "A @ x + A.T @ x"),
    ("tr(A @ B)", "A", None, 1, "B.T"),
    ("a0 + a.T @ b", "b", {"a0": "scalar"}, 1, "a"),
    # symmetric convention
    ("tr(S @ X) - logdet(X)", "X", {"X": "spd n", "S": "symmetric n"}, 1, "S - inv(X)"),
    ("x.T @ A @ x", "x", {"A": "symmetric n"}, 1, "2 * A @ x"),
    # vec and Kronecker products
    ("vec(X).T @ vec(X)", "X", None, 1, "2 * X"),
    ("vec(A @ X).T @ b", "X", None, 1, None),
    ("norm(kron(a, x)) ** 2", "x", None, 1, None),
    ("kron(a, A @ x)", "x", None, 1, "kron(a, A)"),
    # Jacobians (numerator layout) and scalar variables
    ("A @ x", "x", None, 1, "A"),
    ("sigmoid(W @ x)", "x", None, 1, None),
    ("inv(A + t * B)", "t", {"t": "scalar", "A": "matrix n n invertible", "B": "matrix n n"}, 1, None),
]


@pytest.mark.parametrize("expr, wrt, symbols, order, expected", EXAMPLES,
                         ids=[f"{e} d{w} o{o}" for e, w, _, o, _ in EXAMPLES])
def test_examples_are_right_and_cite_records(expr, wrt, symbols, order, expected):
    d = derive(expr, wrt, symbols=symbols, order=order)
    if expected is not None:
        assert d.text == expected
    report = d.check(trials=3, seed=0)
    assert report.ok, str(report)
    catalogue = matident.catalogue()
    assert d.steps, "a derivation shows its steps"
    for step in d.steps:
        assert step.rule == "order-2" or step.rule in catalogue, step


def test_layer_norm_question():
    """The Q&A page's layer-normalisation f = gamma (x - 1 mu) / sqrt(sigma + eps) + 1 beta."""
    syms = {"x": "vector n", "e": "vector n positive", "alpha": "scalar positive",
            "gamma": "scalar", "beta": "scalar", "eps": "scalar positive"}
    mu = "alpha * (e.T @ x)"
    centred = f"(x - {mu} * e)"
    sigma = f"alpha * ({centred}.T @ {centred})"
    f = f"gamma * {centred} / sqrt({sigma} + eps) + beta * e"
    for wrt in ("x", "gamma", "beta"):
        d = derive(f, wrt, symbols=syms)
        assert d.check(trials=3, seed=1).ok, wrt


def test_result_is_sympy_and_printable():
    d = derive("tr(A @ X @ B)", "X")
    import sympy
    assert isinstance(d.result, sympy.Basic)
    assert d.text == "A.T @ B.T"
    text = str(d)
    assert text.startswith("gradient of tr(A @ X @ B) with respect to X")
    assert text.rstrip().endswith("gradient: A.T @ B.T")
    assert d.latex().startswith(r"\begin{aligned}")
    assert d._repr_latex_().startswith("$$")


def test_missing_rule_names_the_subexpression():
    # a catalogue without any rule for logdet
    cat = matident.catalogue().filter(kind="differential")
    cat = matident.Catalogue([r for r in cat if r.lhs_expr.op != "logdet"])
    with pytest.raises(DeriveError) as exc:
        derive("tr(X) + logdet(A @ X)", "X", catalogue=cat)
    assert str(exc.value).startswith("MI040 no differential rule for logdet in 'logdet(A @ X)'")


def test_variable_in_constant_slot_is_an_error():
    with pytest.raises(DeriveError, match="no differential rule for matpow"):
        derive("matpow(X, tr(X))", "X", symbols={"X": "square n"})


def test_check_catches_a_corrupted_result():
    d = derive("tr(A @ X)", "X", symbols={"A": "square n", "X": "square n"})
    assert d.text == "A.T"
    d.result_expr = d.result_expr.args[0]                 # A.T -> A: a flipped transpose
    report = d.check(trials=3, seed=0)
    assert report.status == "failed"
    assert "relative error" in report.message and "exceeds the tolerance" in report.message
    d.result_expr = E.neg(E.transpose(d.result_expr))     # wrong sign
    assert d.check(trials=3, seed=0).status == "failed"


def test_check_catches_a_result_of_the_wrong_shape():
    d = derive("tr(A @ X @ B)", "X")
    d.result_expr = E.transpose(d.result_expr)
    report = d.check(trials=3, seed=0)
    assert report.status == "failed"
    assert "gradient: rhs is" in report.message and "but the derivative must be" in report.message


def test_hessian_needs_a_scalar_expression():
    with pytest.raises(DeriveError, match="order=2 needs a scalar expression"):
        derive("A @ X", "X", order=2)
    # a scalar of a matrix variable has a Hessian (with respect to vec X): see test_vecderiv.py
    assert derive("logdet(X)", "X", symbols={"X": "spd n"}, order=2).text == "-kron(inv(X), inv(X))"


def test_cli_derive_verifies_and_prints_json():
    proc = subprocess.run([sys.executable, "-m", "matident", "derive", "log(x.T @ A @ x)", "--wrt", "x",
                           "--symbol", "A=spd n", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["result"] == "2 * A @ x / (x.T @ A @ x)"
    assert out["check"]["status"] == "passed"
    assert all(step["rule"] for step in out["steps"])


def test_cli_derive_missing_rule_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "matident", "derive", "kron(X, X)", "--wrt", "X"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("matident: error: MI040")


# -- never a silent wrong answer -------------------------------------------------

def _catalogue_with_broken_log_rule():
    """The shipped catalogue with the scalar log's differential replaced by a wrong one."""
    shipped = matident.catalogue()
    broken = matident.load([ROOT / "tests" / "fixtures" / "broken-rules" / "log-differential.yaml"])
    kept = [r for r in shipped if r.id != "differential-log-scalar"]
    return matident.Catalogue(list(broken) + kept)


def test_derive_raises_rather_than_returns_a_result_that_fails_its_check():
    cat = _catalogue_with_broken_log_rule()
    with pytest.raises(DeriveError) as info:
        derive("log(x.T @ A @ x)", "x", symbols={"A": "spd n"}, catalogue=cat)
    err = info.value
    assert err.code == "MI041"
    assert err.step is not None and err.step.rule == "broken-differential-log-scalar"
    assert "broken-differential-log-scalar" in str(err)
    assert err.derivation is not None and not err.derivation.check().ok
    # the unchecked result is available only on request
    d = derive("log(x.T @ A @ x)", "x", symbols={"A": "spd n"}, catalogue=cat, check=False)
    assert d.text == err.derivation.text


def test_the_same_derivation_passes_with_the_shipped_rules():
    d = derive("log(x.T @ A @ x)", "x", symbols={"A": "spd n"})
    assert d.failing_step() is None and d.check().ok


@pytest.mark.parametrize("expr, wrt", [
    ("y.T @ (x / sum(x))", "x"),
    ("y.T @ (x * sum(x))", "x"),
    ("y.T @ log(x / sum(x))", "x"),
    ("-y.T @ log(exp(W @ x) / sum(exp(W @ x)))", "x"),
    ("sum(x + S @ x / sum(exp(x)))", "x"),
    ("norm(X / sum(exp(X)))", "X"),
    ("sum(x * norm(x))", "x"),
    ("y.T @ (x * (a.T @ x))", "x"),
])
def test_scalar_times_array_products_give_right_gradients(expr, wrt):
    """A scalar that depends on the variable times an array: the Hadamard rules must not bind."""
    d = derive(expr, wrt, check=False)
    assert d.check(trials=5, seed=3).ok, d.text
    assert d.failing_step() is None


def test_scalar_times_vector_gradient_has_the_scalar_term_broadcast():
    d = derive("y.T @ (x / sum(x))", "x")
    assert d.text == "y / sum(x) - x.T @ y / sum(x) ** 2"      # the scalar broadcasts, as in numpy


# -- the losses people write, numpy-style -------------------------------------------

def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


LOSSES = [
    # (name, expression, wrt, declarations, numpy function of the values, expected text or None)
    ("logistic, m samples", "sum(log(1 + exp(-y * (A @ w))))", "w", {"A": "matrix m n", "y": "vector m"},
     lambda e: np.sum(np.log1p(np.exp(-e["y"] * (e["A"] @ e["w"])))), None),
    ("softmax cross-entropy", "-y.T @ (z - log(sum(exp(z))))", "z", None,
     lambda e: -e["y"].T @ (e["z"] - np.log(np.sum(np.exp(e["z"])))), None),
    ("softmax cross-entropy of a linear layer", "-y.T @ (W @ x - log(sum(exp(W @ x))))", "W", None,
     lambda e: -e["y"].T @ (e["W"] @ e["x"] - np.log(np.sum(np.exp(e["W"] @ e["x"])))), None),
    ("binary cross-entropy", "-(t.T @ log(sigmoid(z)) + (1 - t).T @ log(1 - sigmoid(z)))", "z", None,
     lambda e: -(e["t"].T @ np.log(_sigmoid(e["z"])) + (1 - e["t"]).T @ np.log(1 - _sigmoid(e["z"]))),
     None),
    ("MSE with a scalar bias, weights", "sum((A @ w + c - y) ** 2)", "w", {"c": "scalar"},
     lambda e: np.sum((e["A"] @ e["w"] + e["c"] - e["y"]) ** 2), None),
    ("MSE with a scalar bias, the bias", "sum((A @ w + c - y) ** 2)", "c", {"c": "scalar"},
     lambda e: np.sum((e["A"] @ e["w"] + e["c"] - e["y"]) ** 2), None),
    ("negative entropy", "sum(x * log(x) - x + 1)", "x", {"x": "vector n positive"},
     lambda e: np.sum(e["x"] * np.log(e["x"]) - e["x"] + 1), "log(x)"),
]


@pytest.mark.parametrize("name, text, wrt, symbols, fn, expected", LOSSES, ids=[c[0] for c in LOSSES])
def test_numpy_style_losses(name, text, wrt, symbols, fn, expected):
    """Each loss as a numpy user writes it; judged by central differences of the numpy function."""
    from matident.evaluate import evaluate
    from matident.shapes import Prod
    d = derive(text, wrt, symbols=symbols)
    if expected is not None:
        assert d.text == expected
    rng = np.random.default_rng(7)
    sizes = {}
    for decl in d.symbols.values():
        for dim in (decl.rows, decl.cols):
            for f in (dim.factors if isinstance(dim, Prod) else (dim,)):
                if isinstance(f, str):
                    sizes[f] = 3 + len(sizes)
    def value(decl):
        shape = (sizes.get(decl.rows, 1), sizes.get(decl.cols, 1))
        v = rng.standard_normal(shape)
        return np.abs(v) + 0.5 if "positive" in decl.structure else v
    env = {n: value(decl) for n, decl in d.symbols.items() if n != f"d{wrt}"}
    if "t" in env:
        env["t"] = rng.uniform(0, 1, env["t"].shape)          # targets in [0, 1]
    grad = evaluate(d.result_expr, env, sizes)
    assert grad.shape == env[wrt].shape
    direction = rng.standard_normal(grad.shape)
    h = 1e-5
    f = lambda t: float(np.asarray(fn({**env, wrt: env[wrt] + t * direction})).ravel()[0])  # noqa: E731
    fd = (f(h) - f(-h)) / (2 * h)
    assert abs(fd - float(np.sum(grad * direction))) <= 1e-6 * max(1.0, abs(fd)), (name, d.text)


# -- Jacobians and Hessians read from records -----------------------------------------

JACOBIANS = [
    ("exp(z) / sum(exp(z))", "z", None, 1,
     "diag(exp(z)) / sum(exp(z)) - exp(z) @ exp(z).T / sum(exp(z)) ** 2"),          # softmax
    ("log(sum(exp(A @ x + b)))", "x", None, 2,
     "A.T @ diag(exp(A @ x + b)) @ A / sum(exp(A @ x + b)) - A.T @ exp(A @ x + b) @ exp(A @ x + b).T "
     "@ A / sum(exp(A @ x + b)) ** 2"),
    ("V.T @ (exp(K @ q) / sum(exp(K @ q)))", "q", None, 1, None),                    # attention read-out
    ("logdet(M + diag(x))", "x", {"M": "spd n", "x": "vector n positive"}, 2,
     "-inv((M + diag(x)).T) * inv(M + diag(x))"),
    ("sum(a * (K @ q))", "q", None, 1, "K.T @ a"),
    ("diag(x) @ v", "x", None, 1, "diag(v)"),
    ("inv(M) @ B @ diag(x) @ u", "x", {"M": "matrix n n invertible"}, 1, "inv(M) @ B @ diag(u)"),
    ("diagvec(A @ diag(x) @ B)", "x", None, 1, "A * B.T"),
    ("kron(a, A @ x)", "x", None, 1, "kron(a, A)"),
]


@pytest.mark.parametrize("text, wrt, symbols, order, expected", JACOBIANS, ids=[c[0] for c in JACOBIANS])
def test_jacobians_and_hessians_from_records(text, wrt, symbols, order, expected):
    d = derive(text, wrt, symbols=symbols, order=order)      # checked numerically inside
    if expected is not None:
        assert d.text == expected
    rules = {s.rule for s in d.steps}
    assert rules and all(r in matident.catalogue() or r == "order-2" for r in rules)


def test_jacobian_rules_are_records_not_code():
    import importlib
    module = importlib.import_module("matident.derive")    # the module: matident.derive is the function
    assert hasattr(module, "_Engine") and not hasattr(module, "_jacobian")
    vector_rules = [r for r in matident.catalogue() if "vector" in r.tags and "jacobian" in r.tags]
    assert len(vector_rules) >= 10
