"""Conversion between term trees and SymPy matrix expressions.

matident's public API speaks SymPy; everything inside works on
:class:`matident.expr.Expr` trees.  :func:`to_sympy` and :func:`from_sympy`
translate at that boundary.

* Dimension names become ``Symbol(name, integer=True, positive=True)``,
  matrices and vectors ``MatrixSymbol``\\ s, scalars real ``Symbol``\\ s.
  Structure words of matrices (``spd``, ``symmetric``, ...) have no SymPy
  counterpart and are lost on the way out.
* ``@``, ``+``, Hadamard and Kronecker products are built the way SymPy's own
  operators build them (canonical order, ``X X`` becomes ``X**2``), without
  SymPy's deeper rewriting (``doit``).
* A 1x1 matrix where the language needs a scalar becomes ``M[0, 0]`` (an
  :class:`Entry`: a ``MatrixElement`` that ``doit`` does not expand into a
  sum), with scalar factors of ``M`` in front; a scalar where SymPy needs a
  matrix becomes the explicit 1x1 matrix ``[[s]]``.
* ``hpow`` is ``HadamardPower``, ``ones(X)`` is ``OneMatrix`` of the shape
  of ``X``.  On the way in, a ``OneMatrix`` becomes ``ones`` of identities of
  its shape and a dimension used as a number (SymPy writes
  ``ones(1, n) ones(n, 1)`` as ``n``) becomes ``tr(I)``.
* The constant ``pi`` is ``sympy.pi`` both ways (``E`` comes in as ``exp(1)``).
* Functions SymPy lacks, or gives another meaning (its ``log`` of a matrix
  is the matrix logarithm, ``Adjoint`` the conjugate transpose), are the
  classes of this module: :class:`LogDet`, :class:`SumEntries`,
  :class:`Norm`, :class:`Adjugate`, :class:`PseudoInverse`, :class:`Vec`,
  :class:`DiagVec`, :class:`Elementwise` and :class:`sigmoid`.

No text is ever handed to SymPy: nothing here calls ``sympify`` on strings.
"""
from __future__ import annotations

from fractions import Fraction

import sympy
from sympy import (Determinant, DiagMatrix, DiagonalOf, HadamardPower, HadamardProduct, Identity,
                   ImmutableMatrix, Inverse, KroneckerProduct, MatAdd, MatMul, MatPow,
                   MatrixSymbol, OneMatrix, Trace, Transpose, ZeroMatrix)
from sympy.core.numbers import Exp1, Pi
from sympy.core.symbol import Str
from sympy.matrices import MatrixBase
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from . import expr as E
from .errors import DeclarationError, MatidentError, ParseError, ShapeError, UsageError
from .functions import FUNCTIONS
from .parse import MAX_DEPTH, MAX_NODES, NAME, RESERVED
from .shapes import SCALAR_WORDS, Decl, Prod, infer, is_scalar_shape, parse_decl, shape_of


# -- SymPy classes for what SymPy lacks ----------------------------------

def _matrix_argument(cls, arg, square=False):
    if not (isinstance(arg, sympy.Basic) and arg.is_Matrix):
        raise ShapeError(f"{cls.__name__} needs a matrix argument, got {arg!r}", code="MI008")
    if square and arg.is_square is False:
        raise ShapeError(f"{cls.__name__} needs a square matrix, got shape {arg.shape}", code="MI008")
    return arg


def _latex_base(printer, arg):
    """LaTeX of ``arg`` as the base of a superscript."""
    text = printer._print(arg)
    return text if isinstance(arg, (MatrixSymbol, Identity)) else rf"\left({text}\right)"


class _Printing:
    """Printing shared by the classes below: ``name(arg)`` and the function table's LaTeX."""

    name: str

    @property
    def arg(self):
        return self.args[-1]

    def _sympystr(self, printer):
        return f"{self.name}({printer._print(self.arg)})"

    def _latex(self, printer):
        return FUNCTIONS[self.name].latex.format(printer._print(self.arg))


class Entry(MatrixElement):
    """``M[0, 0]``: a 1x1 matrix used as a scalar; ``doit`` keeps it (SymPy's would sum entries)."""

    def doit(self, **hints):
        return _as_scalar(self.parent.doit(**hints) if hints.get("deep", True) else self.parent)


class MatrixScalar(_Printing, sympy.Expr):
    """Base of the scalar functions of one matrix; they never evaluate."""

    is_commutative = True
    square = False

    def __new__(cls, arg):
        return super().__new__(cls, _matrix_argument(cls, arg, cls.square))


class LogDet(MatrixScalar):
    """``logdet(X)``: the log of the determinant, printed ``\\log\\det``."""

    name, square = "logdet", True


class SumEntries(MatrixScalar):
    """``sum(X)``: the sum of all entries."""

    name = "sum"


class Norm(MatrixScalar):
    """``norm(X)``: Euclidean norm of a vector, Frobenius norm of a matrix."""

    name = "norm"


class MatrixFunction(_Printing, MatrixExpr):
    """Base of the matrix-valued functions of one matrix; they never evaluate."""

    square = False

    def __new__(cls, arg):
        return super().__new__(cls, _matrix_argument(cls, arg, cls.square))


class Adjugate(MatrixFunction):
    """``adj(X)``: the adjugate (classical adjoint), not SymPy's conjugate transpose."""

    name, square = "adj", True

    @property
    def shape(self):
        return self.arg.shape


class PseudoInverse(MatrixFunction):
    """``pinv(X)``: the Moore-Penrose pseudo-inverse ``X^{+}``."""

    name = "pinv"

    @property
    def shape(self):
        return (self.arg.cols, self.arg.rows)

    def _latex(self, printer):
        return _latex_base(printer, self.arg) + "^{+}"


class _SquareFunction(MatrixFunction):
    """A matrix function of a square matrix, of the same shape (expm, logm, sqrtm)."""

    square = True

    @property
    def shape(self):
        return self.arg.shape


class MatrixExponential(_SquareFunction):
    """``expm(X)``: the matrix exponential (not SymPy's elementwise ``exp``)."""

    name = "expm"


class MatrixCosine(_SquareFunction):
    """``cosm(X)``: the matrix cosine (not SymPy's elementwise ``cos``)."""

    name = "cosm"


class MatrixSine(_SquareFunction):
    """``sinm(X)``: the matrix sine (not SymPy's elementwise ``sin``)."""

    name = "sinm"


class MatrixLogarithm(_SquareFunction):
    """``logm(X)``: the principal matrix logarithm."""

    name = "logm"


class MatrixSquareRoot(_SquareFunction):
    """``sqrtm(X)``: the principal matrix square root ``X^{1/2}``."""

    name = "sqrtm"

    def _latex(self, printer):
        return _latex_base(printer, self.arg) + "^{1/2}"


class Vec(MatrixFunction):
    """``vec(X)``: the columns of ``X`` stacked into one column."""

    name = "vec"

    @property
    def shape(self):
        return (self.arg.rows * self.arg.cols, sympy.S.One)


class Unvec(_Printing, MatrixExpr):
    """``unvec(v, M)``: the column ``v`` reshaped into the shape of ``M`` (``M`` only gives the shape)."""

    name = "unvec"

    def __new__(cls, v, template):
        return super().__new__(cls, _matrix_argument(cls, v), _matrix_argument(cls, template))

    @property
    def shape(self):
        return self.args[1].shape

    def _sympystr(self, printer):
        return f"unvec({printer._print(self.args[0])}, {printer._print(self.args[1])})"

    def _latex(self, printer):
        return FUNCTIONS["unvec"].latex.format(printer._print(self.args[0]))


class Commutation(MatrixFunction):
    """``commutation(M)``: the commutation matrix of M's shape, ``K vec(M) = vec(M.T)`` (M gives the shape)."""

    name = "commutation"

    @property
    def shape(self):
        size = self.arg.rows * self.arg.cols
        return (size, size)


class Eye(MatrixFunction):
    """``eye(M)``: the identity with as many rows as M (M gives only the size)."""

    name = "eye"

    @property
    def shape(self):
        return (self.arg.rows, self.arg.rows)


class DiagVec(MatrixFunction):
    """``diagvec(X)``: the diagonal of a square matrix as a column vector."""

    name, square = "diagvec", True

    @property
    def shape(self):
        return (self.arg.rows, sympy.S.One)


class Elementwise(MatrixFunction):
    """``Elementwise("log", X)``: a scalar function applied to every entry of ``X``."""

    def __new__(cls, name, arg):
        name = str(name)
        if name not in ELEMENTWISE:
            raise ParseError(f"'{name}' is not an elementwise function", code="MI003",
                             hint="use one of " + ", ".join(sorted(ELEMENTWISE)))
        return MatrixExpr.__new__(cls, Str(name), _matrix_argument(cls, arg))

    @property
    def name(self):
        return self.args[0].name

    @property
    def shape(self):
        return self.arg.shape


class sigmoid(sympy.Function):  # noqa: N801 - named like SymPy's own functions
    """The logistic function ``1 / (1 + exp(-t))`` of a scalar; never evaluates."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, t, **kwargs):
        return 1 / (1 + sympy.exp(-t))

    def _latex(self, printer, exp=None):
        text = FUNCTIONS["sigmoid"].latex.format(printer._print(self.args[0]))
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"


_SCALAR_FUNCTIONS = {"log": sympy.log, "exp": sympy.exp, "sqrt": sympy.sqrt,
                     "cos": sympy.cos, "sin": sympy.sin,
                     "tanh": sympy.tanh, "sigmoid": sigmoid, "abs": sympy.Abs}
ELEMENTWISE = frozenset(_SCALAR_FUNCTIONS)     # the functions Elementwise applies
#: functions of the language that SymPy cannot represent (to_sympy refuses them with a message)
WITHOUT_SYMPY_FORM = frozenset({"expect", "block", "norm1", "norm2", "norminf", "pnorm", "max", "min",
                                "eigvalsh", "toeplitz_mean", "toeplitz_sum"})
_CONSTANTS = {"pi": sympy.pi}        # the language's named constants (functions of no arguments)
_MATRIX_FUNCTIONS = {"tr": Trace, "det": Determinant, "logdet": LogDet, "inv": Inverse,
                     "adj": Adjugate, "pinv": PseudoInverse, "sum": SumEntries, "norm": Norm,
                     "diag": DiagMatrix, "diagvec": DiagVec, "vec": Vec,
                     "commutation": Commutation, "eye": Eye,
                     "expm": MatrixExponential, "logm": MatrixLogarithm, "sqrtm": MatrixSquareRoot,
                     "cosm": MatrixCosine, "sinm": MatrixSine}


# -- term tree -> SymPy ---------------------------------------------------

def to_sympy(expr, symbols):
    """SymPy form of a typed term tree.

    ``symbols`` maps every symbol name of ``expr`` to its declaration (a
    :class:`~matident.shapes.Decl` or its text); identity nodes must carry
    their dimension, as in the trees :func:`matident.shapes.infer` returns.
    """
    decls = {name: parse_decl(decl) for name, decl in symbols.items()}
    infer(expr, decls)      # every symbol declared, shapes conform
    try:
        return _ToSympy(decls).convert(expr)
    except MatidentError:
        raise
    except (ArithmeticError, ValueError, TypeError, sympy.SympifyError) as exc:
        # SymPy evaluates some constant sub-expressions on construction (inv(A - A))
        raise ParseError(f"SymPy cannot represent this expression: {exc}", code="MI002",
                         hint="the expression may be undefined (an inverse of a zero matrix?)") from None


def _dim_out(d):
    if isinstance(d, Prod):
        return sympy.Mul(*map(_dim_out, d.factors))
    if isinstance(d, int):
        return sympy.Integer(d)
    if isinstance(d, str):
        return sympy.Symbol(d, integer=True, positive=True)
    raise UsageError(f"the tree has an unknown dimension ({d!r})",
                     hint="convert typed trees, as matident.shapes.infer returns them")


def _number(v):
    if isinstance(v, Fraction):
        return sympy.Rational(v.numerator, v.denominator)
    if isinstance(v, float):
        return sympy.Float(v)
    return sympy.Integer(v)


def _as_scalar(s):
    """A 1x1 matrix as its only entry (scalar factors in front); scalars unchanged."""
    if not s.is_Matrix:
        return s
    if isinstance(s, MatrixBase):
        return s[0, 0]
    if isinstance(s, (Identity, OneMatrix)):
        return sympy.S.One
    if isinstance(s, ZeroMatrix):
        return sympy.S.Zero
    if isinstance(s, MatMul):
        coeff, matrices = s.as_coeff_matrices()
        if coeff != 1:
            return coeff * _as_scalar(_matmul(*matrices))
    return Entry(s, 0, 0)


def _matmul(*factors):
    """SymPy's canonical matrix product (a number distributed over a sum is sorted again)."""
    out = MatMul(*factors, evaluate=True)
    return MatAdd(*out.args, evaluate=True) if isinstance(out, MatAdd) else out


class _ToSympy:
    def __init__(self, symbols):
        self.symbols = symbols

    def convert(self, e):
        op = e.op
        if op == E.NUM:
            return _number(e.value)
        if op == E.SYM:
            return self.symbol(e.value)
        if op == E.IDENT:
            return Identity(_dim_out(e.value))
        if op == E.MATMUL:
            return _matmul(*map(self.convert, e.args))
        if op == E.MUL:
            return self.product(e.args)
        if op == E.ADD:
            terms = [self.convert(t) for t in e.args]
            if all(t.is_Matrix for t in terms):
                return MatAdd(*terms, evaluate=True)
            return sympy.Add(*map(_as_scalar, terms))
        if op == E.POW:
            return sympy.Pow(*(self.scalar(a) for a in e.args))
        if op == E.TRANSPOSE:
            return Transpose(self.matrix(e.args[0]))
        if op in ELEMENTWISE:
            (arg,) = e.args
            if is_scalar_shape(shape_of(arg, self.symbols)):
                return _SCALAR_FUNCTIONS[op](self.scalar(arg))
            return Elementwise(op, self.convert(arg))
        if op == "hpow":
            base, exp = e.args
            if is_scalar_shape(shape_of(base, self.symbols)):
                return sympy.Pow(self.scalar(base), self.scalar(exp))
            return HadamardPower(self.convert(base), self.scalar(exp))
        if op == "ones":
            # HadamardPower(M, 0) is ones(M) and keeps M, so that it reads back with its sizes
            # (a OneMatrix(n, 1) would read back as ones of an identity of unknown size)
            shape = shape_of(e.args[0], self.symbols)
            return sympy.S.One if is_scalar_shape(shape) else HadamardPower(self.matrix(e.args[0]), 0)
        if op == "tr" and e.args[0].op == E.IDENT:
            return _dim_out(e.args[0].value)
        if op == "matpow":
            return MatPow(self.matrix(e.args[0]), self.scalar(e.args[1]))
        if op == "kron":
            return KroneckerProduct(*map(self.matrix, e.args)).doit(deep=False)
        if op == "unvec":
            return Unvec(*map(self.matrix, e.args))
        if op in _MATRIX_FUNCTIONS:
            return _MATRIX_FUNCTIONS[op](self.matrix(e.args[0]))
        if op in _CONSTANTS:
            return _CONSTANTS[op]
        if op in E.WRITTEN or op in ("max", "min", "eigvalsh"):
            raise ParseError(f"{E.to_text(e)[:40]} has no SymPy form", code="MI003",
                             hint="keep the expression as text or a matident tree (SymPy's matrix "
                                  "expressions have no induced norms, entry maxima or eigenvalue vectors)")
        if op in WITHOUT_SYMPY_FORM:
            why = ("SymPy has no projection onto Toeplitz matrices" if op.startswith("toeplitz")
                   else "SymPy has no Gaussian expectation over a bound variable, and its BlockMatrix "
                        "is not bridged")
            raise ParseError(f"{op}() has no SymPy form", code="MI003",
                             hint=f"keep the expression as text or a matident tree ({why})")
        raise ParseError(f"unknown operation '{op}'", code="MI003")

    def symbol(self, name):
        decl = self.symbols[name]
        if decl.kind == "scalar":
            flags = {w: True for w in decl.words if w in SCALAR_WORDS}
            return sympy.Symbol(name, real=True, **flags)
        return MatrixSymbol(name, _dim_out(decl.rows), _dim_out(decl.cols))

    def scalar(self, e):
        return _as_scalar(self.convert(e))

    def matrix(self, e):
        s = self.convert(e)
        return s if s.is_Matrix else ImmutableMatrix([[s]])

    def product(self, factors):
        """``*``: scalar factors multiply, non-scalar ones form a Hadamard product."""
        scalars, matrices = [], []
        for f in factors:
            shaped = scalars if is_scalar_shape(shape_of(f, self.symbols)) else matrices
            shaped.append(self.convert(f))
        if not matrices:
            # a 1x1 matrix times scalars stays a matrix, as in SymPy's 2*x.T*x
            one_by_one = [s for s in scalars if s.is_Matrix]
            if len(one_by_one) != 1:
                return sympy.Mul(*map(_as_scalar, scalars))
            matrices, scalars = one_by_one, [s for s in scalars if not s.is_Matrix]
        body = matrices[0] if len(matrices) == 1 else HadamardProduct(*matrices, evaluate=True)
        coeff = sympy.Mul(*map(_as_scalar, scalars))
        if coeff == 0:       # a zero of body's shape that remembers it (0 * ones(x) stays tied to x)
            return HadamardProduct(ZeroMatrix(*body.shape), body, evaluate=False)
        return _matmul(coeff, body)


# -- SymPy -> term tree ---------------------------------------------------

def from_sympy(e):
    """Term tree and declarations (name -> :class:`~matident.shapes.Decl`) of a SymPy expression.

    Raises :class:`~matident.errors.ParseError` (``MI002``) for SymPy objects
    outside the expression language, and another
    :class:`~matident.errors.MatidentError` for names, declarations or shapes
    the language does not accept.
    """
    if not isinstance(e, sympy.Basic):
        hint = "parse text with matident.parse.parse_expr" if isinstance(e, str) else None
        raise ParseError(f"expected a SymPy expression, got {type(e).__name__}", code="MI002",
                         hint=hint)
    converter = _FromSympy()
    try:
        tree = converter.convert(e, 0)
    except RecursionError:   # SymPy's own recursion (str, shape) on a deep argument
        raise _too_large() from None
    if tree.size() > MAX_NODES or tree.depth() > MAX_DEPTH:
        raise _too_large()
    tree = converter.shaped_ones(tree)
    tree = converter.numbers_for_dimensions(tree)
    infer(tree, converter.symbols)
    return tree, dict(converter.symbols)


_ONES_OF_SHAPE = "ones-of-shape"   # a placeholder node of from_sympy: value = (rows, cols)


def _too_large():
    return ParseError(f"SymPy expression is too large for the expression language (more than "
                      f"{MAX_NODES} parts or {MAX_DEPTH} levels of nesting)", code="MI005",
                      hint="split it into smaller expressions")


def _unsupported(e, hint=None):
    text = str(e)
    text = text if len(text) <= 60 else text[:57] + "..."
    return ParseError(f"cannot convert SymPy object {text!r} ({type(e).__name__}) to the "
                      f"expression language", code="MI002", hint=hint)


def _check_name(name):
    if not NAME.match(name) or name in RESERVED or name.startswith("__") or name.endswith("__"):
        raise ParseError(f"SymPy symbol name {name!r} is not a valid name in the expression language",
                         code="MI006", hint="use letters, digits and underscores, starting with a "
                                            "letter, and not a function name or I")
    return name


def _dims_in(d):
    """Factors of a SymPy dimension as matident dimensions (names or ints)."""
    if isinstance(d, sympy.Mul):
        return [f for a in d.args for f in _dims_in(a)]
    if isinstance(d, sympy.Pow) and d.exp.is_Integer and 1 < d.exp <= 16:
        return _dims_in(d.base) * int(d.exp)
    if not isinstance(d, (sympy.Symbol, sympy.Integer)):
        raise _bad_dimension(d)
    try:
        return [parse_decl(f"vector {d}").rows]     # checks the name or size
    except DeclarationError:
        raise _bad_dimension(d) from None


def _bad_dimension(d):
    return DeclarationError(f"SymPy dimension {str(d)!r} is not a dimension of the expression language",
                            hint="dimensions are lowercase names (n, m, k), integers 1-9999 "
                                 "and their products")


def _dim_in(d):
    factors = _dims_in(d)
    return factors[0] if len(factors) == 1 else Prod(tuple(factors))


def _is_one_by_one(m):
    return m.shape == (1, 1)


class _FromSympy:
    def __init__(self):
        self.symbols = {}        # name -> Decl
        self.scalars = {}        # name -> SymPy Symbol, of the scalar symbols
        self.dimensions = set()  # SymPy symbols in the shapes of matrices
        self.visits = 0

    def convert(self, e, depth):
        self.visits += 1
        if self.visits > MAX_NODES or depth > MAX_DEPTH:
            raise _too_large()
        for cls in type(e).__mro__:
            handler = _HANDLERS.get(cls)
            if handler is not None:
                return handler(self, e, depth + 1)
        raise _unsupported(e)

    def convert_all(self, args, depth):
        return [self.convert(a, depth) for a in args]

    def declare(self, name, decl):
        old = self.symbols.setdefault(_check_name(name), decl)
        if old != decl:
            raise DeclarationError(f"SymPy symbol '{name}' occurs both as '{old}' and as '{decl}'",
                                   code="MI010", hint="give different objects different names")
        return E.sym(name)

    def shape(self, leaf):
        """Dimensions of a matrix that has no matrix arguments; remembers its dimension symbols."""
        self.dimensions.update(*(d.free_symbols for d in leaf.shape))
        return tuple(map(_dim_in, leaf.shape))

    def numbers_for_dimensions(self, tree):
        """Scalar symbols that are dimensions become ``tr(I)`` (SymPy writes ones(1, n) ones(n, 1) as n)."""
        numbers = {name: E.call("tr", E.identity(_dim_in(s)))
                   for name, s in self.scalars.items() if s in self.dimensions}
        for name in numbers:
            del self.symbols[name]
        return tree.replace(numbers) if numbers else tree

    # handlers: (self, SymPy object, depth) -> term tree

    def symbol(self, e, depth):
        if isinstance(e, (sympy.Dummy, sympy.Wild)):
            raise _unsupported(e, hint="use a named Symbol")
        if e.is_extended_real is False:
            raise _unsupported(e, hint="symbols of the expression language are real")
        words = ["positive"] if e.is_positive else ["nonzero"] if e.is_nonzero else []
        if e.is_integer:
            words.append("integer")
        self.scalars[e.name] = e
        return self.declare(e.name, Decl("scalar", 1, 1, tuple(sorted(words))))

    def matrix_symbol(self, e, depth):
        rows, cols = self.shape(e)
        return self.declare(e.name, Decl("vector" if cols == 1 else "matrix", rows, cols))

    def integer(self, e, depth):
        return E.num(int(e))

    def rational(self, e, depth):
        return E.num(Fraction(int(e.p), int(e.q)))

    def floating(self, e, depth):
        return E.num(float(e))

    def exp1(self, e, depth):
        return E.call("exp", E.num(1))

    def pi(self, e, depth):
        return E.call("pi")

    def identity(self, e, depth):
        rows, _ = self.shape(e)
        return E.num(1) if rows == 1 else E.identity(rows)

    def zero_matrix(self, e, depth):
        if self.shape(e) == (1, 1):
            return E.num(0)
        return E.mul(E.num(0), self.one_matrix(e, depth))     # 0 * ones(M): a zero of M's shape

    def explicit_matrix(self, e, depth):
        if _is_one_by_one(e):
            return self.convert(e[0, 0], depth)
        raise _unsupported(e, hint="explicit matrices are not part of the expression language; "
                                   "use MatrixSymbol")

    def matrix_element(self, e, depth):
        matrix, i, j = e.args
        if _is_one_by_one(matrix) and i == 0 and j == 0:
            return self.convert(matrix, depth)
        raise _unsupported(e, hint="matrix entries are not part of the expression language; only "
                                   "M[0, 0] of a 1x1 matrix stands for a scalar")

    def matmul(self, e, depth):
        coeff, matrices = e.as_coeff_matrices()
        return E.mul(self.convert(coeff, depth), E.matmul(*self.convert_all(matrices, depth)))

    def add(self, e, depth):
        return E.add(*self.convert_all(e.args, depth))

    def mul(self, e, depth):
        return E.mul(*self.convert_all(e.args, depth))

    def hadamard_power(self, e, depth):
        if e.exp.is_Matrix:
            raise _unsupported(e, hint="the exponent of hpow(X, p) is a scalar")
        if e.exp == 0:
            return E.call("ones", self.convert(e.base, depth))
        return E.call("hpow", *self.convert_all(e.args, depth))

    def hadamard_product(self, e, depth):
        """A Hadamard product; one with a zero matrix is the zero of its other factors' shape."""
        zeros = [a for a in e.args if isinstance(a, ZeroMatrix)]
        others = [a for a in e.args if not isinstance(a, ZeroMatrix)]
        if zeros and others:
            body = E.mul(*self.convert_all(others, depth))
            return E.mul(E.num(0), body if body.op == "ones" else E.call("ones", body))
        return self.mul(e, depth)

    def one_matrix(self, e, depth):
        """``ones(M)``; M is chosen once every symbol is known (:meth:`shaped_ones`)."""
        rows, cols = self.shape(e)
        if rows == 1 and cols == 1:
            return E.num(1)
        return E.Expr(_ONES_OF_SHAPE, (), (rows, cols))

    def shaped_ones(self, tree):
        """Each ``ones`` of a shape as ``ones(S)`` (or ``ones(S.T)``) for a symbol S of that shape,
        so that it reads back with its sizes; else as ``ones`` of identities of the sizes."""
        if tree.op == _ONES_OF_SHAPE:
            rows, cols = tree.value
            for name in sorted(self.symbols):
                decl = self.symbols[name]
                if (decl.rows, decl.cols) == (rows, cols):
                    return E.call("ones", E.sym(name))
                if (decl.cols, decl.rows) == (rows, cols):
                    return E.call("ones", E.transpose(E.sym(name)))
            if rows == cols:
                return E.call("ones", E.identity(rows))
            column = [E.call("diagvec", E.identity(rows))] if rows != 1 else []
            row = [E.transpose(E.call("diagvec", E.identity(cols)))] if cols != 1 else []
            return E.call("ones", E.matmul(*column, *row))
        if not tree.args:
            return tree
        return E.rebuild(tree, [self.shaped_ones(a) for a in tree.args])

    def kron(self, e, depth):
        args = self.convert_all(e.args, depth)
        out = args[0]
        for a in args[1:]:
            out = E.call("kron", out, a)
        return out

    def transpose(self, e, depth):
        return E.transpose(self.convert(e.arg, depth))

    def inverse(self, e, depth):
        return E.call("inv", self.convert(e.arg, depth))

    def matpow(self, e, depth):
        base, exp = e.args
        if exp.is_Number and not exp.is_Integer:
            raise _unsupported(e, hint="matpow needs an integer (or symbolic) exponent")
        return E.call("matpow", self.convert(base, depth), self.convert(exp, depth))

    def power(self, e, depth):
        return E.power(*self.convert_all(e.args, depth))

    def own(self, e, depth):
        return E.call(e.name, self.convert(e.arg, depth))

    def unvec(self, e, depth):
        return E.call("unvec", *(self.convert(a, depth) for a in e.args))


def _function(name):
    """Handler of a SymPy function of a matrix that is ``name`` in the language."""
    def handler(self, e, depth):
        return E.call(name, self.convert(e.args[0], depth))
    return handler


def _scalar_function(name):
    """Handler of a SymPy scalar function that is the elementwise ``name`` in the language."""
    def handler(self, e, depth):
        (arg,) = e.args
        if arg.is_Matrix and not _is_one_by_one(arg):
            raise _unsupported(e, hint=f"SymPy's {name} of a matrix is not elementwise; write "
                                       f"Elementwise('{name}', X) for the elementwise {name}")
        return E.call(name, self.convert(arg, depth))
    return handler


_HANDLERS = {
    sympy.Symbol: _FromSympy.symbol,
    MatrixSymbol: _FromSympy.matrix_symbol,
    sympy.Integer: _FromSympy.integer,
    sympy.Rational: _FromSympy.rational,
    sympy.Float: _FromSympy.floating,
    Exp1: _FromSympy.exp1,
    Pi: _FromSympy.pi,
    Identity: _FromSympy.identity,
    ZeroMatrix: _FromSympy.zero_matrix,
    MatrixBase: _FromSympy.explicit_matrix,
    MatrixElement: _FromSympy.matrix_element,
    MatMul: _FromSympy.matmul,
    MatAdd: _FromSympy.add,
    sympy.Add: _FromSympy.add,
    sympy.Mul: _FromSympy.mul,
    HadamardProduct: _FromSympy.hadamard_product,
    HadamardPower: _FromSympy.hadamard_power,
    OneMatrix: _FromSympy.one_matrix,
    KroneckerProduct: _FromSympy.kron,
    Transpose: _FromSympy.transpose,
    Inverse: _FromSympy.inverse,
    MatPow: _FromSympy.matpow,
    sympy.Pow: _FromSympy.power,
    Trace: _function("tr"),
    Determinant: _function("det"),
    DiagMatrix: _function("diag"),
    DiagonalOf: _function("diagvec"),
    sympy.log: _scalar_function("log"),
    sympy.exp: _scalar_function("exp"),
    sympy.tanh: _scalar_function("tanh"),
    sympy.cos: _scalar_function("cos"),
    sympy.sin: _scalar_function("sin"),
    sympy.Abs: _scalar_function("abs"),
    sigmoid: _scalar_function("sigmoid"),
    Unvec: _FromSympy.unvec,
    MatrixScalar: _FromSympy.own,
    MatrixFunction: _FromSympy.own,
}
