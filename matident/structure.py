"""Structure inference: which structure words a normal-form tree provably has.

:class:`Structure` establishes structure words (``symmetric``, ``spd``,
``invertible``, ``positive``, ...) of trees in the normal form of a
:class:`~matident.normal.Normalizer`, from the declarations plus simple rules,
e.g. ``X^T X`` and ``A + A^T`` are symmetric, ``X^T X + lam I`` with
``lam > 0`` is SPD.  It answers True only when it can prove the word; False
means "not shown".  The matcher checks a rule's conditions with it, derive
(:mod:`matident.simplify`) whether a gradient is symmetric and a product
invertible.
"""
from __future__ import annotations

from . import expr as E
from .errors import ShapeError
from .normal import Normalizer, same_dim, split_coeff, split_scalars


class Structure:
    """Establishes structure words of normal-form trees (see the module docstring)."""

    def __init__(self, normalizer):
        self.n = normalizer
        self._memo = {}

    def holds(self, word, e):
        """True if ``e`` provably has structure ``word``."""
        k = (word, e)
        out = self._memo.get(k)
        if out is None:
            self._memo[k] = False            # guards against cycles
            out = self._memo[k] = bool(self._check(word, e))
        return out

    def _check(self, word, e):
        n = self.n
        if word in ("square", "symmetric", "diagonal", "lower", "upper", "toeplitz") and n.is_scalar(e):
            return True
        if word in ("tall", "wide", "full-rank"):
            return self._rank(word, e)
        if e.op == E.SYM:
            return n.decls[e.value].has(word) or (word == "square" and self.square(e))
        if e.op == E.NUM:
            v = e.value
            return {"positive": v > 0, "nonzero": v != 0,
                    "integer": not isinstance(v, float) and v == int(v)}.get(word, False)
        if word == "square":
            return self.square(e)
        if word == "symmetric":
            return self.square(e) and n.transpose(e) == e
        if word == "skew":                   # e + e^T = 0
            return self.square(e) and split_coeff(n.sum([e, n.transpose(e)]))[0] == 0
        return getattr(self, "_" + word)(e)

    def square(self, e):
        r, c = self.n.shape(e)
        return same_dim(r, c)

    def _all(self, word, items):
        return all(self.holds(word, a) for a in items)

    def _split(self, e):
        """(scalar factors, matrix factors) of a * product."""
        return split_scalars(e.args, self.n.is_scalar)

    def _palindrome(self, fs):
        """(outer half, middle or None) if the chain is F M F^T, else None."""
        k = len(fs)
        if any(fs[i] != self.n.transpose(fs[k - 1 - i]) for i in range(k // 2)):
            return None
        return fs[:k // 2], (fs[k // 2] if k % 2 else None)

    def _invertible_chain(self, fs):
        return all(self.square(f) and self.holds("invertible", f) for f in fs)

    def _definite(self, e, strict):
        word = "spd" if strict else "psd"
        op = e.op
        if op == E.IDENT:
            return True
        if op == E.MUL:
            scal, mats = self._split(e)
            return bool(mats) and self._all("positive", scal) and self._all(word, mats)
        if op == E.ADD:
            return self._all("psd", e.args) and (not strict or any(self.holds("spd", t) for t in e.args))
        if op == E.MATMUL:
            pal = self._palindrome(e.args)
            if pal is None:
                return False
            outer, middle = pal
            if middle is not None and not self.holds(word, middle):
                return False
            return not strict or self._invertible_chain(outer)
        if op in ("inv", "adj"):
            return self.holds("spd", e.args[0])
        if op == "matpow":
            return self.holds(word, e.args[0])
        if op == "kron":
            return self._all(word, e.args)
        if op == "diag":
            return self.holds("positive", e.args[0])
        return False

    def _permutation(self, e):
        """Products, transposes and inverses of permutation matrices (and I) are permutations."""
        op = e.op
        if op == E.IDENT:
            return True
        if op in (E.TRANSPOSE, "inv"):
            return self.holds("permutation", e.args[0])
        if op in (E.MATMUL, "kron"):
            return self._all("permutation", e.args)
        return False

    def _unit(self, e):
        """A unit vector e_i only as declared (a symbol, answered before this)."""
        return False

    def _rank(self, word, e):
        """Dimension relations and full rank: a square matrix is tall and wide (and of full
        rank when invertible); a symbol as declared; a transpose swaps tall and wide."""
        if self.square(e):
            return word != "full-rank" or self.holds("invertible", e)
        if e.op == E.SYM:
            return self.n.decls[e.value].has(word)
        if e.op == E.TRANSPOSE:
            return self.holds({"tall": "wide", "wide": "tall"}.get(word, word), e.args[0])
        return False

    def _spd(self, e):
        return self._definite(e, True)

    def _psd(self, e):
        return self.holds("spd", e) or self._definite(e, False)

    def _invertible(self, e):
        op = e.op
        if op == E.IDENT or self.holds("spd", e) or self.holds("orthogonal", e):
            return True
        if op == E.TRANSPOSE:
            return self.holds("invertible", e.args[0])
        if op == "inv":
            return True
        if op in ("adj", "matpow"):
            return self.holds("invertible", e.args[0])
        if op == E.MATMUL:
            return self._invertible_chain(e.args)
        if op == E.MUL:
            scal, mats = self._split(e)
            return len(mats) == 1 and self._all("nonzero", scal) and self.holds("invertible", mats[0])
        if op == "kron":
            return self._all("invertible", e.args)
        if op == "diag":
            return self.holds("positive", e.args[0])
        return False

    def _orthogonal(self, e):
        op = e.op
        if op == E.IDENT:
            return True
        if op in (E.TRANSPOSE, "inv"):
            return self.holds("orthogonal", e.args[0])
        if op in (E.MATMUL, "kron"):
            return self._all("orthogonal", e.args)
        if op == E.MUL:
            return len(e.args) == 2 and e.args[0].op == E.NUM and abs(e.args[0].value) == 1 \
                and self.holds("orthogonal", e.args[1])
        return False

    def _triangular(self, e, word, other):
        op = e.op
        if op == E.IDENT or (word != "diagonal" and self.holds("diagonal", e)):
            return True
        if op == E.TRANSPOSE:
            return self.holds(other, e.args[0])
        if op in (E.MATMUL, E.ADD, "kron"):
            return self._all(word, e.args)
        if op == E.MUL:
            return any(self.holds(word, f) for f in self._split(e)[1])
        if op in ("inv", "matpow", "adj"):
            return self.holds(word, e.args[0])
        return word == "diagonal" and op == "diag"

    def _diagonal(self, e):
        return self._triangular(e, "diagonal", "diagonal")

    def _lower(self, e):
        return self._triangular(e, "lower", "upper")

    def _upper(self, e):
        return self._triangular(e, "upper", "lower")

    def _toeplitz(self, e):
        """I, toeplitz_mean/toeplitz_sum of anything, and transposes, sums and scalar multiples
        (or Hadamard products) of Toeplitz matrices."""
        op = e.op
        if op in (E.IDENT, "toeplitz_mean", "toeplitz_sum"):
            return True
        if op == E.TRANSPOSE:
            return self.holds("toeplitz", e.args[0])
        if op in (E.ADD, E.MUL):
            return self._all("toeplitz", e.args)
        return False

    def _positive(self, e):
        op = e.op
        if op in ("exp", "sigmoid", "ones", "pi"):
            return True
        if op == E.MATMUL and self.n.is_scalar(e) and self._quadratic(e):
            return True
        if op in (E.MUL, E.MATMUL, E.ADD):
            return self._all("positive", e.args)
        if op == E.POW:
            base, exp = e.args
            even = exp.op == E.NUM and not isinstance(exp.value, float) and exp.value % 2 == 0
            return self.holds("positive", base) or (even and self.holds("nonzero", base))
        if op in ("sqrt", "hpow"):
            return self.holds("positive", e.args[0])
        if op == "abs":
            return self.n.is_scalar(e) and self.holds("nonzero", e.args[0])
        if op in ("det", "tr"):
            return self.holds("spd", e.args[0])
        if op in ("norm", "norm1", "norm2", "norminf", "pnorm"):
            return self.holds("nonzero", e.args[0])
        if op == "sum":
            return self.holds("positive", e.args[0])
        return False

    def _quadratic(self, e):
        """x^T M x with M spd and x nonzero (or x^T x)."""
        pal = self._palindrome(e.args)
        if pal is None:
            return False
        outer, middle = pal
        ok_middle = middle is None or self.holds("spd", middle)
        return ok_middle and self._nonzero_vector_chain(list(reversed([self.n.transpose(f) for f in outer])))

    def _nonzero_vector_chain(self, fs):
        """A product (square invertible ...) @ nonzero vector."""
        return bool(fs) and self.holds("nonzero", fs[-1]) and self._invertible_chain(fs[:-1])

    def _nonzero(self, e):
        op = e.op
        if self.holds("positive", e):
            return True
        if op == E.MUL:
            return self._all("nonzero", e.args)
        if op == E.POW:
            return self.holds("nonzero", e.args[0])
        if op == "det":
            return self.holds("invertible", e.args[0])
        if op == E.MATMUL and self.n.shape(e)[1] == 1:
            return self._nonzero_vector_chain(list(e.args))
        if op == E.TRANSPOSE:
            return self.holds("nonzero", e.args[0])
        return False

    def _integer(self, e):
        return e.op in (E.ADD, E.MUL) and self._all("integer", e.args)


def require_symmetric_arguments(typed):
    """Refuse ``eigvalsh(M)`` in a typed tree unless M is provably symmetric (declared, or built
    so as ``A.T @ A``): numpy's eigvalsh reads one triangle of any matrix, an answer that would
    be silently wrong.  Returns ``typed``."""
    if not any(n.op == "eigvalsh" for n in typed.expr.walk()):
        return typed
    norm = Normalizer(typed.symbols)
    structure = Structure(norm)
    for node in typed.expr.walk():
        if node.op == "eigvalsh" and not structure.holds("symmetric", norm.normal(node.args[0])):
            arg = E.to_text(node.args[0])
            arg = arg if node.args[0].op == E.SYM else f"({arg[:40]})"
            raise ShapeError(f"eigvalsh() needs a symmetric matrix, and '{arg}' is not known to be one",
                             code="MI008", hint=f"eigvalsh needs a symmetric matrix, e.g. ({arg} + {arg}.T) / 2, "
                             "or declare it symmetric")
    return typed
