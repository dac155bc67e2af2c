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
    the stable error codes of :data:`matident.errors.CODES`.

Substitutions ``|MAX_LENGTH|``, ``|MAX_DEPTH|``, ``|MAX_NODES|`` and
``|MAX_DIGITS|`` give the parser's limits.  A function whose shape rule this
file does not describe is a build warning (an error under ``-W``): describe
the rule in ``SHAPE_RULES`` below when adding one.
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
    "vector_to_diagonal": (["x"], "n-vector → n×n"),
    "diagonal_of": (["A"], "n×n → n-vector"),
    "kron": (["A", "B"], "m×n, p×q → (mp)×(nq)"),
    "vec": (["A"], "m×n → (mn)-vector"),
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
        for name in sorted(FUNCTIONS):
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
            call = f"``{name}({', '.join(args)})``"
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
    "positive": "a positive scalar; a vector or matrix with positive entries",
    "nonzero": "not zero",
    "integer": "a whole number",
}


class StructuresTable(_Table):
    def table(self):
        from matident.shapes import CONFLICTS, SCALAR_WORDS, STRUCTURES, VECTOR_WORDS

        def clash(a, b):
            both = STRUCTURES[a] | STRUCTURES[b]
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


def _limits(app, config):
    parse = importlib.import_module("matident.parse")   # not matident.parse(), the function
    subs = "\n".join(f".. |{name}| replace:: {getattr(parse, name):,}"
                     for name in ("MAX_LENGTH", "MAX_DEPTH", "MAX_NODES", "MAX_DIGITS"))
    config.rst_epilog = (config.rst_epilog or "") + "\n" + subs + "\n"


def setup(app):
    app.add_directive("matident-functions", FunctionsTable)
    app.add_directive("matident-structures", StructuresTable)
    app.add_directive("matident-greek", GreekList)
    app.add_directive("matident-error-codes", ErrorCodesTable)
    app.connect("config-inited", _limits)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
