"""The function table of the expression language: one row per function.

Each :class:`Function` says how many arguments it takes, which shape rule
applies (implemented in :mod:`matident.shapes`), how to evaluate it with numpy
and how to print it in LaTeX.  Adding a function to the language means adding a
row here (and, if it is new, a shape rule); nothing else dispatches on names.
A row of no arguments is a named constant (``pi``): it is written, printed and
reserved as a bare name, and its tree is a node with no children.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable



class _Numpy:
    """numpy, imported when a function is first evaluated.

    Parsing, shapes, lookup and derive use this table without evaluating, so
    they import without numpy (the docs' Ask page runs them in Pyodide, which
    ships none).  The first attribute read imports numpy and rebinds ``np``.
    """

    def __getattr__(self, name):
        global np
        import numpy
        np = numpy
        return getattr(numpy, name)


np = _Numpy()


@dataclass(frozen=True)
class Function:
    name: str
    arity: int
    shape_rule: str          # key into shapes.SHAPE_RULES
    numpy: Callable          # arrays (always 2-D) -> 2-D array
    latex: str               # format string over the arguments' LaTeX
    doc: str
    elementwise: bool = False
    #: how the text writes a call when the row is one form of another function
    #: (``norm({0}, 2)``); such a row is never called by its own name
    written: str | None = None
    #: False for a function that is not differentiable everywhere (a maximum, an induced
    #: norm, the eigenvalues): derive and lookup's derivatives refuse it
    differentiable: bool = True

    @property
    def constant(self):
        """A function of no arguments is a named constant, written without parentheses (``pi``)."""
        return self.arity == 0


def _scalar(v):
    return np.array([[v]], dtype=float)


def _logdet(a):
    sign, value = np.linalg.slogdet(a)
    return _scalar(value if sign > 0 else np.nan)


def pinv_cutoff(a):
    """The relative size below which a singular value of ``a`` counts as 0 in ``pinv``.

    numpy's own default (1e-15) is not scaled by the size; the evaluator's conditioning
    check (evaluate._pinv_condition) must see exactly the singular values pinv inverts.
    """
    return max(a.shape) * np.finfo(float).eps


def _pinv(a):
    return np.linalg.pinv(a, rcond=pinv_cutoff(a))


def _adj(a):
    # adj(A) = det(A) inv(A) for invertible A; via the cofactors in general.
    n = a.shape[0]
    if n == 1:
        return np.ones((1, 1))
    cof = np.empty_like(a, dtype=float)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=0), j, axis=1)
            cof[i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return cof.T


def _matpow(a, k):
    k = k[0, 0]
    if k != np.round(k):
        return np.full_like(a, np.nan, dtype=float)
    k = int(np.round(k))
    if k < 0:
        return np.linalg.matrix_power(np.linalg.inv(a), -k)
    return np.linalg.matrix_power(a, k)


def _norm(a):
    return _scalar(np.sqrt(np.sum(a * a)))


def _induced(order):
    """An induced matrix norm as numpy computes it for a 2-D array (np.linalg.norm(A, order))."""
    return lambda a: _scalar(np.linalg.norm(a, np.inf if order == "inf" else order))


def _pnorm(x, p):
    """numpy's vector p-norm (sum |x_i|^p)^(1/p); NaN unless p is a positive whole number."""
    p = p[0, 0]
    if p != np.round(p) or p < 1:
        return np.full((1, 1), np.nan)
    return _scalar(np.linalg.norm(x[:, 0], int(np.round(p))))


def _eigvalsh(a):
    """The eigenvalues of a symmetric matrix, ascending, as a column (np.linalg.eigvalsh)."""
    return np.linalg.eigvalsh((a + a.T) / 2).reshape(-1, 1)


def _log(a):
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.log(a)
    out[a <= 0] = np.nan
    return out


def _sqrt(a):
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.where(a < 0, np.nan, a))


def _hpow(a, p):
    if p != np.round(p) and np.any(a < 0):
        return np.full_like(a, np.nan, dtype=float)
    if p < 0 and np.any(a == 0):
        return np.full_like(a, np.nan, dtype=float)
    return np.power(a, p)


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _vec(a):
    return a.reshape(-1, 1, order="F")


def _diag(v):
    return np.diag(v[:, 0])


def _diagvec(a):
    return np.diag(a).reshape(-1, 1).copy()


def _toeplitz_of(a, mean):
    """A with each diagonal replaced by its sum, or by its mean (the orthogonal projection
    onto Toeplitz matrices): entry (i, j) lies on diagonal j - i."""
    n = a.shape[0]
    offset = np.subtract.outer(np.arange(n), np.arange(n)).T + (n - 1)    # j - i + n - 1
    totals = np.bincount(offset.ravel(), weights=np.asarray(a, dtype=float).ravel(), minlength=2 * n - 1)
    if mean:
        totals = totals / (n - np.abs(np.arange(1 - n, n)))
    return totals[offset]


def _commutation(a):
    # K @ vec(M) = vec(M.T) for an r x c matrix M: vec(M) holds M[i, j] at j*r + i, vec(M.T) at i*c + j
    r, c = a.shape
    k = np.zeros((r * c, r * c))
    for i in range(r):
        for j in range(c):
            k[i * c + j, j * r + i] = 1.0
    return k


# -- matrix functions: the principal branch, on matrices whose eigenvalues avoid the
# closed negative real axis (logm, sqrtm); NaN outside the domain, so that the
# verifier redraws the instance.


def _expm(a):
    """exp(A) = sum A^k / k!: scaling and squaring with a Taylor polynomial.

    A is scaled by 2^-s to norm at most 1/2, where 30 terms of the series are
    exact to rounding (the remainder is below 0.5^30 / 30!), then squared s times.
    """
    norm = float(np.abs(a).sum(axis=0).max()) if a.size else 0.0
    if not np.isfinite(norm):
        return np.full_like(a, np.nan, dtype=float)
    s = max(0, int(np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0
    if s > 64:
        return np.full_like(a, np.nan, dtype=float)
    b = a / 2.0 ** s
    term, out = np.eye(a.shape[0]), np.eye(a.shape[0])
    for k in range(1, 31):
        term = term @ b / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


def _cosm(a):
    """cos(A) = sum (-1)^k A^2k / (2k)!, the real part of exp(iA) for real A."""
    return _expm(1j * a).real.copy()


def _sinm(a):
    """sin(A) = sum (-1)^k A^(2k+1) / (2k+1)!, the imaginary part of exp(iA) for real A."""
    return _expm(1j * a).imag.copy()


def _nan(a):
    return np.full_like(a, np.nan, dtype=float)


def _symmetric_function(a, scalar_function):
    """f(A) = V f(D) V^T for a symmetric A with positive eigenvalues; None if A is not
    symmetric, NaN if an eigenvalue is not positive."""
    scale = max(1.0, float(np.abs(a).max()))
    if np.abs(a - a.T).max() > 1e-12 * scale:
        return None
    w, v = np.linalg.eigh((a + a.T) / 2)
    if w.min() <= 1e-12 * scale:
        return _nan(a)
    return (v * scalar_function(w)) @ v.T


def _sqrtm(a):
    """Principal square root: Denman-Beavers iteration (no eigen-decomposition, so
    defective matrices such as I + N with N nilpotent are fine).  NaN when it does not
    converge to a root, which is the case for an eigenvalue on the closed negative real axis."""
    out = _symmetric_function(a, lambda w: np.sqrt(w))
    if out is not None:
        return out
    y, z = a.astype(float), np.eye(a.shape[0])
    for _ in range(60):
        try:
            y, z = (y + np.linalg.inv(z)) / 2, (z + np.linalg.inv(y)) / 2
        except np.linalg.LinAlgError:
            return _nan(a)
        if not np.all(np.isfinite(y)):
            return _nan(a)
        if np.abs(y @ y - a).max() <= 1e-12 * max(1.0, float(np.abs(a).max())):
            return y
    return _nan(a)


def _logm(a):
    """Principal logarithm by inverse scaling and squaring: square roots until A is
    within 1/4 of I, then the series log(I + X) = sum (-1)^(k+1) X^k / k (40 terms,
    exact to rounding for |X| <= 1/4), times 2^s.  NaN outside the domain (an
    eigenvalue on the closed negative real axis)."""
    out = _symmetric_function(a, lambda w: np.log(w))
    if out is not None:
        return out
    n, s, b = a.shape[0], 0, a.astype(float)
    while np.abs(b - np.eye(n)).sum(axis=0).max() > 0.25:
        if s == 40:
            return _nan(a)
        b, s = _sqrtm(b), s + 1
        if not np.all(np.isfinite(b)):
            return _nan(a)
    x = b - np.eye(n)
    term, out = np.eye(n), np.zeros((n, n))
    for k in range(1, 41):
        term = term @ x
        out = out + (term if k % 2 else -term) / k
    return out * 2.0 ** s


def _rows(fs):
    return {f.name: f for f in fs}


def not_differentiable(tree, wrt):
    """The first sub-tree of ``tree`` that applies a function that is not differentiable everywhere
    (``differentiable=False``: max, min, the induced and p-norms, eigvalsh) to an expression of the
    symbol ``wrt``, or None.  derive, check and lookup's derivatives refuse such a tree rather than
    give an answer that is wrong at the kinks."""
    for node in tree.walk():
        fn = FUNCTIONS.get(node.op)
        if fn is not None and not fn.differentiable and node.has(wrt):
            return node
    return None


def kink_message(node, text):
    """(message, hint) for :func:`not_differentiable`'s ``node``, printed as ``text``."""
    where = {"max": "where two entries tie for the largest", "min": "where two entries tie for the smallest",
             "eigvalsh": "at repeated eigenvalues",
             "norm2": "where the largest singular value is repeated, and at 0"}.get(
        node.op, "where an entry is 0 or two of the largest sums tie")
    return (f"{text} is not differentiable everywhere ({where}): matident does not differentiate it",
            "differentiate a smooth form instead, e.g. norm(x) ** 2 = x.T @ x, or derive the rest "
            "of the expression without it")


#: the rows ``norm(X, ord)`` is read as, by its literal ``ord`` (``pnorm`` for a whole number >= 3)
NORM_ORDS = {1: "norm1", 2: "norm2", "inf": "norminf"}


FUNCTIONS = _rows([
    Function("tr", 1, "scalar_of_square", lambda a: _scalar(np.trace(a)),
             r"\operatorname{{tr}}\left({0}\right)", "trace of a square matrix"),
    Function("det", 1, "scalar_of_square", lambda a: _scalar(np.linalg.det(a)),
             r"\det\left({0}\right)", "determinant of a square matrix"),
    Function("logdet", 1, "scalar_of_square", _logdet,
             r"\log\det\left({0}\right)",
             "log of the determinant (the determinant must be positive)"),
    Function("inv", 1, "same_square", lambda a: np.linalg.inv(a),
             r"{0}^{{-1}}", "inverse of a square invertible matrix"),
    Function("adj", 1, "same_square", _adj,
             r"\operatorname{{adj}}\left({0}\right)", "adjugate (classical adjoint), det(A) inv(A)"),
    Function("expm", 1, "same_square", _expm,
             r"e^{{{0}}}", "matrix exponential, the series sum of A^k / k!"),
    Function("cosm", 1, "same_square", _cosm,
             r"\cos\left({0}\right)", "matrix cosine, the series sum of (-1)^k A^2k / (2k)!"),
    Function("sinm", 1, "same_square", _sinm,
             r"\sin\left({0}\right)", "matrix sine, the series sum of (-1)^k A^(2k+1) / (2k+1)!"),
    Function("logm", 1, "same_square", _logm,
             r"\operatorname{{logm}}\left({0}\right)",
             "principal matrix logarithm (no eigenvalue on the closed negative real axis); "
             "expm(logm(A)) = A"),
    Function("sqrtm", 1, "same_square", _sqrtm,
             r"{0}^{{1/2}}",
             "principal matrix square root (no eigenvalue on the closed negative real axis); "
             "sqrtm(A) @ sqrtm(A) = A"),
    Function("block", 1, "block", None,
             r"\begin{{bmatrix}} A & B \\ C & D \end{{bmatrix}}",
             "block([[A, B], [C, D]]): a matrix assembled from blocks; the blocks of a row have one "
             "height, those of a column one width; a block written 0 is a zero block of that size"),
    Function("expect", 4, "expectation", None,
             r"\mathbb{{E}}_{{{1} \sim \mathcal{{N}}\left({2}, {3}\right)}}\left[{0}\right]",
             "expect(f, x, m, S): the expectation of f over a Gaussian vector x ~ N(m, S); f is a "
             "polynomial of degree at most 5 in the symbol x (computed exactly by cubature)"),
    Function("pinv", 1, "transposed", _pinv,
             r"{0}^{{+}}", "Moore-Penrose pseudo-inverse"),
    Function("matpow", 2, "matpow", _matpow,
             r"{0}^{{{1}}}", "integer matrix power matpow(X, k); k may be a symbol"),
    Function("log", 1, "elementwise", _log, r"\log\left({0}\right)",
             "natural logarithm, elementwise on vectors and matrices", elementwise=True),
    Function("exp", 1, "elementwise", lambda a: np.exp(a), r"\exp\left({0}\right)",
             "exponential, elementwise on vectors and matrices", elementwise=True),
    Function("sqrt", 1, "elementwise", _sqrt, r"\sqrt{{{0}}}",
             "square root, elementwise on vectors and matrices", elementwise=True),
    Function("cos", 1, "elementwise", lambda a: np.cos(a), r"\cos\left({0}\right)",
             "cosine, elementwise (for the matrix cosine write cosm)", elementwise=True),
    Function("sin", 1, "elementwise", lambda a: np.sin(a), r"\sin\left({0}\right)",
             "sine, elementwise (for the matrix sine write sinm)", elementwise=True),
    Function("tanh", 1, "elementwise", lambda a: np.tanh(a), r"\tanh\left({0}\right)",
             "hyperbolic tangent, elementwise", elementwise=True),
    Function("sigmoid", 1, "elementwise", _sigmoid, r"\sigma\left({0}\right)",
             "logistic sigmoid 1/(1+exp(-t)), elementwise", elementwise=True),
    Function("abs", 1, "elementwise", lambda a: np.abs(a), r"\left|{0}\right|",
             "absolute value, elementwise", elementwise=True),
    Function("hpow", 2, "elementwise_power", lambda a, p: _hpow(a, p[0, 0]),
             r"{0}^{{\circ {1}}}", "elementwise power hpow(X, p) with a scalar exponent p",
             elementwise=True),
    Function("ones", 1, "elementwise", lambda a: np.ones_like(a),
             r"\mathbf{{1}}", "all-ones matrix of the shape of its argument (a constant)"),
    Function("pi", 0, "constant", lambda: _scalar(np.pi), r"\pi",
             "the constant pi = 3.14159... (a scalar, written without parentheses; evaluated as the "
             "nearest float, so cos(pi) is -1 to rounding)"),
    Function("sum", 1, "scalar_of_any", lambda a: _scalar(np.sum(a)),
             r"\operatorname{{sum}}\left({0}\right)", "sum of all entries"),
    Function("norm", 1, "scalar_of_any", _norm,
             r"\left\lVert {0} \right\rVert", "Euclidean norm of a vector, Frobenius norm of a matrix"),
    Function("norm1", 1, "scalar_of_any", _induced(1),
             r"\left\lVert {0} \right\rVert_{{1}}",
             "the 1-norm np.linalg.norm(X, 1): the largest column sum of abs(X) (of a column "
             "vector, the sum of abs(x))", written="norm({0}, 1)", differentiable=False),
    Function("norm2", 1, "scalar_of_any", _induced(2),
             r"\left\lVert {0} \right\rVert_{{2}}",
             "the 2-norm np.linalg.norm(X, 2): the largest singular value (of a vector, the "
             "Euclidean norm; norm(X) is the Frobenius norm)", written="norm({0}, 2)",
             differentiable=False),
    Function("norminf", 1, "scalar_of_any", _induced("inf"),
             r"\left\lVert {0} \right\rVert_{{\infty}}",
             "the infinity-norm np.linalg.norm(X, inf): the largest row sum of abs(X) (of a column "
             "vector, the largest abs(x_i))", written="norm({0}, inf)", differentiable=False),
    Function("pnorm", 2, "vector_p_norm", _pnorm,
             r"\left\lVert {0} \right\rVert_{{{1}}}",
             "the vector p-norm np.linalg.norm(x, p) = sum(abs(x) ** p) ** (1 / p) of a column x, "
             "for a whole number p >= 3 written as a literal (p = 1, 2: the rows above)",
             written="norm({0}, {1})", differentiable=False),
    Function("max", 1, "scalar_of_any", lambda a: _scalar(np.max(a)),
             r"\max\left({0}\right)", "the largest entry (np.max); max(abs(X)) is the max-norm",
             differentiable=False),
    Function("min", 1, "scalar_of_any", lambda a: _scalar(np.min(a)),
             r"\min\left({0}\right)", "the smallest entry (np.min)", differentiable=False),
    Function("eigvalsh", 1, "eigenvalues", _eigvalsh,
             r"\operatorname{{eig}}\left({0}\right)",
             "the eigenvalues of a symmetric matrix as a column, ascending (np.linalg.eigvalsh); "
             "the argument must be provably symmetric: declared so, or built so (A.T @ A, "
             "(A + A.T) / 2)", differentiable=False),
    Function("diag", 1, "vector_to_diagonal", _diag,
             r"\operatorname{{diag}}\left({0}\right)", "diagonal matrix with the vector on its diagonal"),
    Function("diagvec", 1, "diagonal_of", _diagvec,
             r"\operatorname{{diagvec}}\left({0}\right)", "the diagonal of a square matrix, as a column vector"),
    Function("toeplitz_mean", 1, "same_square", lambda a: _toeplitz_of(a, True),
             r"\operatorname{{toeplitz}}_{{\mathrm{{mean}}}}\left({0}\right)",
             "each diagonal of a square matrix replaced by its mean: the orthogonal projection onto "
             "Toeplitz matrices, the gradient with respect to a Toeplitz variable"),
    Function("toeplitz_sum", 1, "same_square", lambda a: _toeplitz_of(a, False),
             r"\operatorname{{toeplitz}}_{{\mathrm{{sum}}}}\left({0}\right)",
             "each diagonal of a square matrix replaced by its sum: toeplitz_sum(A.T) is the "
             "Cookbook's alpha(A) (eq. 143), the partial derivatives by the diagonals' parameters"),
    Function("kron", 2, "kron", lambda a, b: np.kron(a, b),
             r"{0} \otimes {1}", "Kronecker product"),
    Function("vec", 1, "vec", _vec,
             r"\operatorname{{vec}}\left({0}\right)", "stack the columns into one column vector"),
    Function("commutation", 1, "commutation", _commutation,
             r"\mathbf{{K}}_{{{0}}}",
             "commutation(M): the commutation matrix K of the shape of M (only M's shape is used), "
             "K @ vec(M) = vec(M.T); for an r x c M it is rc x rc (Magnus and Neudecker's K_rc)"),
    Function("eye", 1, "identity_of_rows", lambda a: np.eye(a.shape[0]),
             r"\mathbf{{I}}_{{{0}}}",
             "eye(M): the identity with as many rows as M (only M's shape is used); eye(M.T) has "
             "as many rows as M has columns. Sizes the identity where nothing else does, as in kron(eye(X.T), A)"),
    Function("unvec", 2, "unvec", lambda v, m: v.reshape(m.shape, order="F"),
             r"\operatorname{{vec}}^{{-1}}\left({0}\right)",
             "unvec(v, M): the column v, of length rows*cols of M, reshaped column by column into "
             "the shape of M (only M's shape is used); unvec(vec(X), X) = X"),
])
