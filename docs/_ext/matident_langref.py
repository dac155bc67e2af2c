"""Reference tables of the expression language, generated from the code.

The docs must not drift from the parser, so the tables are built from the
modules that define the language:

``.. matident-functions::``
    one row per entry of :data:`matident.functions.FUNCTIONS`;
``.. matident-structures::``
    the structure words of :data:`matident.shapes.STRUCTURES`;
``.. matident-greek::``
    the names that are scalars when undeclared (:data:`matident.shapes.GREEK`);
``.. matident-error-codes::``
    the stable error codes of :data:`matident.errors.CODES`;
``.. matident-verify-constants::``
    the tolerances and limits of :mod:`matident.verify`.

Substitutions ``|MAX_LENGTH|``, ``|MAX_DEPTH|``, ``|MAX_NODES|`` and
``|MAX_DIGITS|`` give the parser's limits; ``|IDENTITY_TOL|``,
``|DERIVATIVE_TOL|``, ``|FD_STEP|`` and every other number of
:mod:`matident.verify` the verifier's (``SIZE_RANGE`` as ``|SIZE_MIN|`` and
``|SIZE_MAX|``).  A function whose shape rule, or a verifier constant whose
meaning, this file does not describe is a build warning (an error under
``-W``): describe it in ``SHAPE_RULES`` or ``VERIFY_CONSTANTS`` below.
"""
from __future__ import annotations

import importlib

from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

# shape rule -> (argument names for the call, shapes in words)
SHAPE_RULES = {
    "scalar_of_square": (["A"], "n×n → scalar"),
    "same_square": (["A"], "n×n → n×n"),
    "transposed": (["A"], "m×n → n×m"),
    "matpow": (["A", "k"], "n×n, scalar → n×n"),
    "elementwise": (["A"], "any shape → the same shape, entry by entry"),
    "elementwise_power": (["A", "p"], "any shape, scalar → the same shape, entry by entry"),
    "scalar_of_any": (["A"], "any shape → scalar"),
    "constant": ([], "a scalar (a named constant, written without parentheses)"),
    "vector_to_diagonal": (["x"], "n-vector → n×n"),
    "diagonal_of": (["A"], "n×n → n-vector"),
    "kron": (["A", "B"], "m×n, p×q → (mp)×(nq)"),
    "vec": (["A"], "m×n → (mn)-vector"),
    "unvec": (["v", "M"], "(mn)-vector, m×n → m×n (M gives only the shape)"),
    "commutation": (["M"], "m×n → (mn)×(mn) (M gives only the shape)"),
    "identity_of_rows": (["M"], "m×n → m×m (M gives only the shape)"),
    "block": (["[[A, B], [C, D]]"], "blocks of equal heights along a row and equal widths down a "
                                    "column → (sum of heights)×(sum of widths)"),
    "expectation": (["f", "x", "m", "S"], "f of any shape, n-vectors x and m, n×n S → the shape of f"),
    "vector_p_norm": (["x", "p"], "n-vector, a whole number p >= 3 written as a literal → scalar"),
    "eigenvalues": (["S"], "n×n, provably symmetric → n-vector"),
}


def _list_table(header, rows, widths=None, classes="matident-ref"):
    lines = [".. list-table::", "   :header-rows: 1", f"   :class: {classes}"]
    if widths:
        lines.append("   :widths: " + " ".join(map(str, widths)))
    lines.append("")
    for row in [header, *rows]:
        first = True
        for cell in row:
            lines.append(("   * - " if first else "     - ") + (cell or ""))
            first = False
    return "\n".join(lines) + "\n"


class _Table(SphinxDirective):
    has_content = False

    def run(self):
        text = self.table()
        return self.parse_text_to_nodes(text)


class FunctionsTable(_Table):
    def table(self):
        from matident.functions import FUNCTIONS
        rows = []
        for name in sorted(FUNCTIONS, key=lambda n: FUNCTIONS[n].written or n):   # norm(A, 2) by norm
            fn = FUNCTIONS[name]
            rule = SHAPE_RULES.get(fn.shape_rule)
            if rule is None:
                logger.warning("the docs do not describe shape rule %r of function %r; add it to "
                               "SHAPE_RULES in docs/_ext/matident_langref.py",
                               fn.shape_rule, name, location=self.get_location())
                args, shapes = [chr(ord("A") + i) for i in range(fn.arity)], fn.shape_rule
            else:
                args, shapes = rule
            if len(args) != fn.arity:
                args = [chr(ord("A") + i) for i in range(fn.arity)]
            call = f"``{name}``" if fn.constant else f"``{name}({', '.join(args)})``"
            if fn.written:                  # norm2 is written norm(A, 2)
                call = f"``{fn.written.format(*args)}``"
            typeset = f":math:`{fn.latex.format(*args)}`"
            rows.append([call, typeset, shapes, fn.doc])
        return _list_table(["Call", "Typeset", "Shapes", "Meaning"], rows, [18, 16, 30, 36])


# structure word -> what it means (a word missing here is a build warning)
STRUCTURE_MEANINGS = {
    "square": "as many rows as columns",
    "symmetric": ":math:`X^{T} = X`",
    "spd": "symmetric positive definite",
    "psd": "symmetric positive semidefinite (possibly singular)",
    "orthogonal": ":math:`X^{T} X = I`",
    "diagonal": "zero off the diagonal",
    "invertible": "non-singular",
    "lower": "lower triangular",
    "upper": "upper triangular",
    "skew": "skew-symmetric, :math:`X^{T} = -X`",
    "toeplitz": "constant along every diagonal, :math:`X_{ij} = t_{j-i}`",
    "positive": "a positive scalar; a vector or matrix with positive entries",
    "nonzero": "not zero",
    "integer": "a whole number",
    "tall": "at least as many rows as columns (:math:`m \\ge n`)",
    "wide": "at most as many rows as columns (:math:`m \\le n`)",
    "permutation": "a permutation matrix (one entry 1 in every row and column, the others 0)",
    "unit": "a standard unit vector :math:`e_i` (one entry 1, the others 0; the index is not named)",
    "full-rank": "rank :math:`\\min(m, n)`: full column rank if tall, full row rank if wide",
}


class StructuresTable(_Table):
    def table(self):
        from matident.shapes import CONFLICTS, SCALAR_WORDS, STRUCTURES, TOEPLITZ_WORDS, VECTOR_WORDS

        def clash(a, b):
            both = STRUCTURES[a] | STRUCTURES[b]
            if "toeplitz" in (a, b) and not {a, b} <= TOEPLITZ_WORDS:
                return True
            return any(x in both and y in both for x, y in CONFLICTS)

        rows = []
        for word in sorted(STRUCTURES):
            meaning = STRUCTURE_MEANINGS.get(word)
            if meaning is None:
                logger.warning("the docs do not say what structure word %r means; add it to "
                               "STRUCTURE_MEANINGS in docs/_ext/matident_langref.py", word,
                               location=self.get_location())
                meaning = ""
            implied = sorted(STRUCTURES[word] - {word})
            applies = [kind for kind, ok in (("scalar", word in SCALAR_WORDS),
                                             ("vector", word in VECTOR_WORDS),
                                             ("matrix", word != "integer")) if ok]
            shorthand = f"``{word} n``" if "square" in STRUCTURES[word] else ""
            excludes = [w for w in sorted(STRUCTURES) if w != word and clash(word, w)]
            rows.append([f"``{word}``", meaning, ", ".join(applies),
                         ", ".join(f"``{w}``" for w in implied),
                         ", ".join(f"``{w}``" for w in excludes), shorthand])
        return _list_table(["Word", "Meaning", "Applies to", "Implies", "Cannot be combined with",
                            "Shorthand"], rows, [13, 25, 14, 18, 17, 13])


class GreekList(_Table):
    def table(self):
        from matident.shapes import GREEK
        return ", ".join(f"``{g}``" for g in sorted(GREEK)) + "\n"


class ErrorCodesTable(_Table):
    def table(self):
        from matident.errors import CODES
        return _list_table(["Code", "Meaning"], [[f"``{c}``", m] for c, m in sorted(CODES.items())],
                           [15, 85])


# constant of matident.verify -> what it is (a constant missing here is a build warning)
VERIFY_CONSTANTS = {
    "IDENTITY_TOL": "relative error allowed between the two sides of an identity",
    "DERIVATIVE_TOL": "relative error allowed between a derivative and finite differences",
    "FD_STEP": "finite-difference step, relative to max(1, ‖X‖_F), along a unit direction",
    "FD_SETTLE": "how well the differences with steps h and h/2 must agree (relative)",
    "DIRECTIONS": "random directions per instance for a derivative or differential",
    "MAX_REDRAWS": "draws per instance before a record is inconclusive",
    "SIZE_RANGE": "sizes drawn for the dimension names (inclusive)",
    "COND_LIMIT": "largest condition number of a drawn matrix",
    "CANCELLATION": "for identity sides far smaller than the values they are computed from: "
                    "the least scale of the comparison, as a fraction of the largest of those values",
    "MAX_VALUE_ENTRIES": "most entries of a drawn value (64 × 64): a record or derivation with larger "
                         "numeric sizes is not checked (inconclusive, or an error for derive)",
    "MAX_ENTRIES": "most entries of any intermediate result evaluated (a kron of three 6 × 6 is 216 × 216)",
    "MAX_SEED": "largest seed (seeds are whole numbers from 0)",
    "MAX_TRIALS": "most instances per record (at least 1: zero trials would check nothing)",
    "SQUARE_EVERY": "every this-many-th trial (the 3rd, 6th, ...) draws tall and wide matrices square, "
                    "as their declaration admits; the other trials draw them strictly tall or wide",
    "MAX_JOBS": "most processes sharing the records of one run (``--jobs``); the report is the same "
                "for any number",
    "RECORDS_PER_PROCESS": "fewest records per process: a shorter list is shared by fewer processes "
                           "(a fork costs about 3 ms)",
}


def _verify_constants():
    """name -> value text, for every upper-case number or range of matident.verify."""
    verify = importlib.import_module("matident.verify")   # not matident.verify(), the function
    out = {}
    for name, value in vars(verify).items():
        if name.isupper() and isinstance(value, (int, float, tuple)) and not isinstance(value, bool):
            out[name] = (f"{value[0]} to {value[1]}" if isinstance(value, tuple)
                         else f"{value:,}" if isinstance(value, int) else f"{value:g}")
    return out


class VerifyConstantsTable(_Table):
    def table(self):
        rows = []
        for name, value in _verify_constants().items():
            meaning = VERIFY_CONSTANTS.get(name)
            if meaning is None:
                logger.warning("the docs do not say what matident.verify.%s is; add it to "
                               "VERIFY_CONSTANTS in docs/_ext/matident_langref.py", name,
                               location=self.get_location())
            rows.append([f"``{name}``", value, meaning or ""])
        return _list_table(["Constant", "Value", "Meaning"], rows, [22, 13, 65])


def _limits(app, config):
    parse = importlib.import_module("matident.parse")   # not matident.parse(), the function
    subs = [f".. |{name}| replace:: {getattr(parse, name):,}"
            for name in ("MAX_LENGTH", "MAX_DEPTH", "MAX_NODES", "MAX_DIGITS")]
    verify = _verify_constants()
    low, high = importlib.import_module("matident.verify").SIZE_RANGE
    verify.update(SIZE_MIN=str(low), SIZE_MAX=str(high))
    subs += [f".. |{name}| replace:: {value}" for name, value in verify.items() if name != "SIZE_RANGE"]
    config.rst_epilog = (config.rst_epilog or "") + "\n" + "\n".join(subs) + "\n"


def setup(app):
    app.add_directive("matident-functions", FunctionsTable)
    app.add_directive("matident-structures", StructuresTable)
    app.add_directive("matident-greek", GreekList)
    app.add_directive("matident-error-codes", ErrorCodesTable)
    app.add_directive("matident-verify-constants", VerifyConstantsTable)
    app.connect("config-inited", _limits)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
