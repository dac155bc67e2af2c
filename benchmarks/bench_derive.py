"""matident.derive against SymPy's .diff on realistic expressions.

SymPy gets each expression as a SymPy user would type it (log(det(X)),
sqrt(tr(M.T M)) for norms).  For every case both answers are checked numerically against central finite
differences on random instances (matident's verifier), and timed; the
script prints a table, how many each gets right, and the median times with
their ratio.  SymPy's vector-by-vector derivatives use the other layout, so
its answer also counts as right when its transpose is.

    python benchmarks/bench_derive.py [--repeat N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import matident
from matident.derive import derive
from matident.shapes import infer
from matident.sympy_bridge import from_sympy, to_sympy
from matident.verify import check_derivative

# (name, expression, wrt, declarations)
CASES = [
    ("least squares", "norm(A @ x - b) ** 2", "x", {}),
    ("least squares (quadratic form)", "(A @ x - b).T @ (A @ x - b)", "x", {}),
    ("ridge", "norm(A @ x - b) ** 2 + lam * norm(x) ** 2", "x", {"lam": "scalar positive"}),
    ("weighted least squares", "(A @ x - b).T @ W @ (A @ x - b)", "x", {"W": "spd m"}),
    ("logistic loss (one sample)", "log(1 + exp(-y * (a.T @ w)))", "w", {"y": "scalar"}),
    ("logistic loss (data matrix)", "sum(log(ones(y) + exp(-y * (A @ w))))", "w", {}),
    ("softmax cross-entropy", "-y.T @ z + log(sum(exp(z)))", "z", {}),
    ("log-sum-exp", "log(sum(exp(x)))", "x", {}),
    ("Gaussian NLL, mean", "(x - mu).T @ inv(S) @ (x - mu)", "mu", {"S": "spd n", "mu": "vector n"}),
    ("Gaussian NLL, covariance", "logdet(S) + (x - mu).T @ inv(S) @ (x - mu)", "S",
     {"S": "spd n", "mu": "vector n"}),
    ("Gaussian NLL, precision", "-logdet(P) + (x - mu).T @ P @ (x - mu)", "P", {"P": "spd n", "mu": "vector n"}),
    ("matrix factorisation, W", "norm(X - W @ H) ** 2", "W", {}),
    ("matrix factorisation, H", "norm(X - W @ H) ** 2", "H", {}),
    ("two-layer network, W2", "norm(W2 @ tanh(W1 @ x) - y) ** 2", "W2", {}),
    ("two-layer network, W1", "norm(W2 @ tanh(W1 @ x) - y) ** 2", "W1", {}),
    ("Rayleigh quotient", "(x.T @ A @ x) / (x.T @ x)", "x", {"A": "symmetric n"}),
    ("trace of AXB", "tr(A @ X @ B)", "X", {}),
    ("log det", "logdet(X)", "X", {"X": "spd n"}),
    ("log det of a product", "logdet(A @ X)", "X", {"A": "spd n", "X": "spd n"}),
    ("det", "det(X)", "X", {"X": "matrix n n invertible"}),
    ("trace of the inverse", "tr(inv(X))", "X", {"X": "matrix n n invertible"}),
    ("log trace", "log(tr(X))", "X", {"X": "spd n"}),
    ("exp trace", "exp(tr(A @ X))", "X", {}),
    ("quadratic form", "x.T @ A @ x", "x", {}),
    ("log quadratic form", "log(x.T @ A @ x)", "x", {"A": "spd n"}),
    ("ln ||Ax||^2", "log(norm(A @ x) ** 2)", "x", {}),
    ("Frobenius norm", "norm(A @ X - B)", "X", {}),
    ("bilinear form", "a.T @ X @ b", "X", {}),
    ("inverse bilinear form", "a.T @ inv(X) @ b", "X", {"X": "matrix n n invertible"}),
    ("trace A inv(X) B", "tr(A @ inv(X) @ B)", "X", {"X": "matrix n n invertible"}),
    ("Euclidean norm", "sqrt(x.T @ x)", "x", {}),
    ("distance", "norm(x - a)", "x", {}),
    ("sigmoid of a linear form", "sigmoid(a.T @ x)", "x", {}),
    ("cubic", "(a.T @ x) ** 3", "x", {}),
    ("trace of X.T A X", "tr(X.T @ A @ X)", "X", {}),
    ("Kullback-Leibler part", "tr(inv(S) @ C) + logdet(S)", "S", {"S": "spd n", "C": "spd n"}),
]


def sympy_native(e):
    """Write our own functions with SymPy's: logdet -> log(det), norm -> sqrt(tr(M.T M)).

    SymPy cannot differentiate the bridge's LogDet/Norm classes, so the baseline
    gets the formulation a SymPy user would type.
    """
    from matident import expr as E
    args = [sympy_native(a) for a in e.args]
    if e.op == "logdet":
        return E.call("log", E.call("det", args[0]))
    if e.op == "norm":
        return E.call("sqrt", E.call("tr", E.matmul(E.transpose(args[0]), args[0])))
    return E.rebuild(e, args) if e.args else e


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def sympy_answer_is_right(typed, wrt, result):
    tree, _ = from_sympy(result)
    rhs = infer(tree, typed.symbols, implicit=False).expr
    ok = check_derivative(typed.expr, rhs, typed.symbols, wrt, trials=2).ok
    if not ok and typed.symbols[wrt].kind == "vector" and typed.shape != (1, 1):
        rhs_t = infer(matident.expr.transpose(tree), typed.symbols).expr
        ok = check_derivative(typed.expr, rhs_t, typed.symbols, wrt, trials=2).ok
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    matident.catalogue()   # load once, outside the timings
    rows, ours_t, theirs_t = [], [], []
    ours_right = theirs_right = 0
    for name, text, wrt, decls in CASES:
        typed = matident._typed(text, decls)
        try:
            d, t_ours = timed(lambda: derive(text, wrt, symbols=decls), args.repeat)
            ours = d.check(trials=3, seed=0).ok
            ours_note = d.text
        except matident.MatidentError as exc:
            ours, t_ours, ours_note = False, float("nan"), f"error: {exc.message}"
        native = infer(sympy_native(typed.expr), typed.symbols)
        sym_expr = to_sympy(native.expr, typed.symbols)
        sym_wrt = to_sympy(matident.expr.sym(wrt), typed.symbols)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result, t_theirs = timed(lambda: sym_expr.diff(sym_wrt), args.repeat)
            theirs_note = str(result)
            try:
                theirs = sympy_answer_is_right(typed, wrt, result)
            except matident.MatidentError as exc:
                theirs, theirs_note = False, f"unusable result {theirs_note[:40]} ({exc.code})"
        except Exception as exc:  # noqa: BLE001 - SymPy failing is what we measure
            theirs, t_theirs, theirs_note = False, float("nan"), f"raises {type(exc).__name__}"
        ours_right += ours
        theirs_right += theirs
        if t_ours == t_ours:
            ours_t.append(t_ours)
        if t_theirs == t_theirs:
            theirs_t.append(t_theirs)
        rows.append((name, ours, t_ours, theirs, t_theirs, theirs_note))
        if theirs and not ours:
            print(f"REGRESSION: SymPy is right and matident is not on {name!r}: {ours_note}",
                  file=sys.stderr)
    print(f"{'case':34} {'matident':>9} {'ms':>7}   {'SymPy':>6} {'ms':>7}   SymPy says")
    for name, ours, t1, theirs, t2, note in rows:
        print(f"{name:34} {'right' if ours else 'WRONG':>9} {t1 * 1e3:7.2f}   "
              f"{'right' if theirs else 'wrong':>6} {t2 * 1e3:7.2f}   {note[:60]}")
    m_ours, m_theirs = statistics.median(ours_t), statistics.median(theirs_t)
    print(f"\n{len(CASES)} cases: matident right on {ours_right}, SymPy right on {theirs_right}")
    print(f"median time, all cases: matident derive {m_ours * 1e3:.2f} ms, SymPy .diff "
          f"{m_theirs * 1e3:.2f} ms (SymPy's wrong answers, such as 0, are fast), "
          f"ratio {m_ours / m_theirs:.2f}")
    both = [(t1, t2) for _, o, t1, t, t2, _ in rows if o and t]
    if both:
        b_ours = statistics.median(t1 for t1, _ in both)
        b_theirs = statistics.median(t2 for _, t2 in both)
        print(f"median time on the {len(both)} cases both get right: matident {b_ours * 1e3:.2f} ms, "
              f"SymPy {b_theirs * 1e3:.2f} ms, ratio {b_ours / b_theirs:.2f}")
    return 0 if ours_right == len(CASES) else 1


if __name__ == "__main__":
    sys.exit(main())
