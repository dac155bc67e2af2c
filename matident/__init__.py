"""matident: a verified database of matrix-calculus identities.

>>> import matident
>>> rec = matident.catalogue()["trace-axb-derivative"]
>>> rec.kind, rec.lhs_text, rec.rhs_text
('derivative', 'tr(A @ X @ B)', 'A.T @ B.T')
>>> matident.format(matident.parse("tr(A @ X @ B)"))
'tr(A @ X @ B)'
"""
from __future__ import annotations

import sys as _sys
import types as _types

from .catalogue import Catalogue, Record, catalogue, load
from .errors import (CatalogueError, DeclarationError, DeriveError, MatidentError, ParseError,
                     ShapeError, UsageError)
try:        # verify needs numpy; lookup and derive do not (the docs' Ask page runs them in Pyodide)
    from .verify import Report, Result, verify
except ModuleNotFoundError as exc:
    if exc.name != "numpy":
        raise

__version__ = "0.1.0"

__all__ = ["parse", "format", "latex", "catalogue", "load", "verify", "lookup", "derive", "check",
           "Catalogue", "Record", "Report", "Result", "MatidentError", "ParseError",
           "ShapeError", "DeclarationError", "CatalogueError", "DeriveError", "UsageError"]


def _typed(expr, symbols=None):
    """A typed term tree from text, a SymPy expression or a term tree."""
    from .expr import Expr
    from .parse import check_declared_names, parse_expr
    from .shapes import euclidean_vector_norms, infer
    from .structure import require_symmetric_arguments
    check_declared_names(symbols)
    if isinstance(expr, str):
        return euclidean_vector_norms(require_symmetric_arguments(infer(parse_expr(expr), symbols, implicit=True)))
    if isinstance(expr, Expr):
        return euclidean_vector_norms(require_symmetric_arguments(infer(expr, symbols, implicit=True)))
    from .sympy_bridge import from_sympy
    tree, decls = from_sympy(expr)
    merged = {**decls, **(symbols or {})}
    return infer(tree, merged, implicit=True)


def parse(text, symbols=None):
    """Parse text in the expression language into a SymPy matrix expression.

    ``symbols`` maps names to declarations (``{"X": "spd n"}``); undeclared
    names get a shape from their spelling (uppercase: matrix, one lowercase
    letter: column vector, Greek name: scalar).

    >>> parse("tr(A @ X @ B)")
    Trace(A*X*B)
    """
    from .sympy_bridge import to_sympy
    typed = _typed(text if isinstance(text, str) else _require_text(text), symbols)
    return to_sympy(typed.expr, typed.symbols)


def _require_text(text):
    raise ParseError(f"parse() takes text, got {text!r:.40}", code="MI001")


def format(expr):  # noqa: A001 - the public name the docs promise
    """Text in the expression language for a SymPy expression (parses back equal)."""
    from .printing import to_text
    return to_text(_typed(expr).expr)


def latex(expr, symbols=None):
    r"""LaTeX in the Cookbook's notation.

    >>> latex(parse("inv(X).T @ A"))
    'X^{-T} A'
    """
    from .printing import to_latex
    typed = _typed(expr, symbols)
    return to_latex(typed.expr, typed.symbols)


def lookup(expr, wrt=None, *, symbols=None, limit=None, budget=None):
    """Identities of the catalogue that apply to ``expr`` (see :mod:`matident.match`).

    ``budget``: matching steps before the search stops and says so
    (``.complete`` is False); default :data:`matident.match.BUDGET`.
    """
    from .match import BUDGET, lookup as _lookup
    return _lookup(expr, wrt, symbols=symbols, limit=limit, budget=BUDGET if budget is None else budget)


def derive(expr, wrt, *, symbols=None, order=1, check=True):
    """Step-by-step derivative of ``expr`` with respect to ``wrt`` (see :mod:`matident.derive`).

    The result is checked numerically before it is returned; a failing check
    raises :class:`DeriveError` (``check=False`` skips it).
    """
    from .derive import derive as _derive
    return _derive(expr, wrt, symbols=symbols, order=order, check=check)


class _Package(_types.ModuleType):
    """The package's module type: the functions parse and derive share their names with the
    submodules matident.parse and matident.derive, which are loaded on first use (verify
    needs neither).  The import system then binds the submodule in sys.modules only: the
    package's attribute stays the function."""

    def __setattr__(self, name, value):
        if isinstance(value, _types.ModuleType) and isinstance(self.__dict__.get(name), _types.FunctionType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def check(expr, wrt, claim, *, symbols=None):
    """Check a claimed derivative numerically; name the slip if it is wrong (see :mod:`matident.claim`)."""
    from .claim import check as _check
    return _check(expr, wrt, claim, symbols=symbols)
