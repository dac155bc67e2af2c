"""Property-based tests: arbitrary and mutated input gives a value or a MatidentError.

Never another exception, and never more than :data:`LIMIT` seconds per input.
Covered: the expression parser (with shape inference), the public
``matident.parse`` (SymPy), the declaration parser and the loader.  Printing
valid expressions is a fixpoint (text -> tree -> text gives the same text).

The budget is ``CI`` (default: 200 examples per property, derandomized so that
CI repeats itself) or ``FUZZ`` (``MATIDENT_HYPOTHESIS=fuzz``: 20,000 examples
or ``MATIDENT_FUZZ_EXAMPLES``; run by ``benchmarks/fuzz.py``).  Hypothesis' own
deadline is off: the time of each input is measured here, and an input over the
limit is timed twice more so that a garbage-collection pause on a busy CI
machine is not taken for slowness.
"""
from __future__ import annotations

import os
import string
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matident
from matident.catalogue import Catalogue, load
from matident.errors import CODES, CatalogueError, MatidentError
from matident.parse import parse_expr
from matident.printing import to_text
from matident.shapes import Decl, infer, parse_decl

LIMIT = 0.100           # seconds per input
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
# ci: a fixed, repeatable sample (no example database); fuzz: a large random one.
# Applied to these tests only (no global profile: other modules keep theirs).
CI = settings(max_examples=200, derandomize=True, database=None, deadline=None,
              suppress_health_check=_QUIET)
FUZZ = settings(max_examples=int(os.environ.get("MATIDENT_FUZZ_EXAMPLES", 20_000)), deadline=None,
                print_blob=True, suppress_health_check=_QUIET)
BUDGET = FUZZ if os.environ.get("MATIDENT_HYPOTHESIS") == "fuzz" else CI
# file-writing properties are slower per example: a quarter of the budget, and
# files of a few records (the time limit is per input, loading is linear in it)
FILES = settings(BUDGET, max_examples=max(1, BUDGET.max_examples // 4))
LOADER_CHARS = 2_000

STATS = {}              # property -> [inputs, values, errors, slowest seconds]


def outcome(what, fn, value):
    """``fn(value)`` -> result or the MatidentError it raised; checks the time limit."""
    def run():
        start = time.perf_counter()
        try:
            result = fn(value)
        except MatidentError as exc:
            result = exc
        return result, time.perf_counter() - start

    result, elapsed = run()
    if elapsed > LIMIT:
        elapsed = min(elapsed, *(run()[1] for _ in range(2)))
    stats = STATS.setdefault(what, [0, 0, 0, 0.0])
    stats[0] += 1
    stats[2 if isinstance(result, MatidentError) else 1] += 1
    stats[3] = max(stats[3], elapsed)
    assert elapsed <= LIMIT, f"{what} took {elapsed * 1000:.0f} ms on {value!r:.200}"
    if isinstance(result, MatidentError):
        assert result.code in CODES, result.code
        assert str(result) and "Traceback" not in str(result)
    return result


# -- strategies: valid expressions, built by type ----------------------------

SYMBOLS = {"A": "matrix n n", "B": "matrix n n", "X": "matrix n n", "x": "vector n",
           "y": "vector n", "alpha": "scalar", "beta": "scalar"}

numbers = st.one_of(st.integers(0, 10**6).map(str),
                    st.fractions(min_value=0, max_value=100, max_denominator=50).map(
                        lambda f: f"{f.numerator} / {f.denominator}"),
                    st.floats(1e-6, 1e6).map(lambda v: f"{v:.3e}"))


def _typed(leaves):
    s_leaf, v_leaf, m_leaf = leaves

    def extend(children):
        s, v, m = children
        return (st.one_of(s_leaf,
                          st.builds("tr({})".format, m), st.builds("det({})".format, m),
                          st.builds("logdet({})".format, m), st.builds("sum({})".format, m),
                          st.builds("norm({})".format, v), st.builds("({}.T @ {})".format, v, v),
                          st.builds("({} * {})".format, s, s), st.builds("({} + {})".format, s, s),
                          st.builds("({} - {})".format, s, s), st.builds("({}) ** 2".format, s),
                          st.builds("({} / {})".format, s, s), st.builds("-{}".format, s)),
                st.one_of(v_leaf,
                          st.builds("({} @ {})".format, m, v), st.builds("({} + {})".format, v, v),
                          st.builds("({} * {})".format, v, v), st.builds("({} * {})".format, s, v),
                          st.builds("diagvec({})".format, m), st.builds("sigmoid({})".format, v),
                          st.builds("log({})".format, v), st.builds("({} / {})".format, v, s)),
                st.one_of(m_leaf,
                          st.builds("({} @ {})".format, m, m), st.builds("({} + {})".format, m, m),
                          st.builds("({} - {})".format, m, m), st.builds("({} * {})".format, m, m),
                          st.builds("({} * {})".format, s, m), st.builds("{}.T".format, m),
                          st.builds("inv({})".format, m), st.builds("adj({})".format, m),
                          st.builds("pinv({})".format, m), st.builds("exp({})".format, m),
                          st.builds("hpow({}, 3)".format, m), st.builds("matpow({}, 2)".format, m),
                          st.builds("({} @ {}.T)".format, v, v), st.builds("diag({})".format, v),
                          st.builds("-{}".format, m), st.builds("I".format)))
    return extend


def _expressions(depth):
    leaves = (st.one_of(st.sampled_from(["alpha", "beta"]), numbers),
              st.sampled_from(["x", "y"]), st.sampled_from(["A", "B", "X", "I"]))
    level = leaves
    for _ in range(depth):
        level = tuple(st.one_of(leaf, grown) for leaf, grown in zip(leaves, _typed(level)(level)))
    return st.one_of(*level)


valid_expressions = _expressions(3)

# characters that make plausible hostile edits
NASTY = ["\x00", "\x07", "\x1b", "\x7f", "\t", "\n", "\r", "\u00a0", "\u200b", "\u2212", "\u00d7",
         "\u00b7", "\u1d40", "\u0391", "\u03b1", "\u0410", "\u0430", "\uff0b", "\uff08", "\ud800",
         "\U0001d400", "(", ")", "@", "*", "**", "/", "+", "-", ".", ".T", ",", "[", "]", "{", "}",
         "'", '"', "\\", "#", ";", ":", "=", "_", "__", "lambda", "import", "for", "if", "9" * 40,
         "1e999", "1e-999", "0x", "10**10**10", "tr", "inv(", "__class__", "I", "dX", "j"]


@st.composite
def mutated(draw, base):
    """``base`` text with 1-4 random edits (insert, delete, duplicate, swap, wrap)."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, n))
        edit = draw(st.sampled_from(["insert", "delete", "duplicate", "swap", "wrap", "replace"]))
        if edit == "insert":
            piece = draw(st.one_of(st.sampled_from(NASTY), st.text(max_size=3)))
            text = text[:i] + piece + text[i:]
        elif edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "duplicate":
            text = text[:j] + text[i:j] * draw(st.integers(1, 50)) + text[j:]
        elif edit == "swap":
            k = draw(st.integers(j, n))
            text = text[:i] + text[j:k] + text[i:j] + text[k:]
        elif edit == "wrap":
            k = draw(st.integers(1, 120))
            text = "(" * k + text + ")" * k
        else:
            text = text[:i] + draw(st.sampled_from(NASTY)) + text[j:]
    return text


token_soup = st.lists(st.sampled_from(NASTY + list(string.ascii_letters[:8]) + ["A", "x", " "]),
                      max_size=60).map("".join)
any_text = st.one_of(st.text(max_size=300), st.text(alphabet=st.characters(max_codepoint=127),
                                                    max_size=300), token_soup)


# -- the expression parser ----------------------------------------------------

def _tree(text):
    return infer(parse_expr(text), implicit=True)


@BUDGET
@given(any_text)
def test_parser_on_arbitrary_text(text):
    outcome("parser/arbitrary", _tree, text)


@BUDGET
@given(mutated(valid_expressions))
def test_parser_on_mutated_expressions(text):
    outcome("parser/mutated", _tree, text)


@BUDGET
@given(valid_expressions)
def test_valid_expressions_parse_and_round_trip(text):
    typed = outcome("parser/valid", lambda t: infer(parse_expr(t), SYMBOLS), text)
    if isinstance(typed, MatidentError):
        # only the size limits may refuse a generated expression
        assert typed.code in ("MI005", "MI011"), str(typed)
        return
    # printing is a fixpoint after one round (exact tree equality: the tests below)
    printed = to_text(typed.expr)
    assert to_text(infer(parse_expr(printed), SYMBOLS).expr) == printed, text


def test_round_trip_keeps_the_order_of_factors():
    tree = parse_expr("x / alpha * x")
    assert parse_expr(to_text(tree)) == tree


def test_round_trip_keeps_a_float_coefficient():
    tree = parse_expr("1e0 * x")
    assert parse_expr(to_text(tree)) == tree


def test_public_parse_of_the_inverse_of_zero():
    with pytest.raises(MatidentError):
        matident.parse("A - inv(A - A)", SYMBOLS)


@BUDGET
@given(st.one_of(valid_expressions, mutated(valid_expressions)))
def test_public_parse(text):
    outcome("matident.parse", lambda t: matident.parse(t, SYMBOLS), text)


# -- the declaration parser -----------------------------------------------------

dims = st.one_of(st.sampled_from(["n", "m", "k", "p2", "n_1"]), st.integers(1, 9999).map(str))
words = st.lists(st.sampled_from(["square", "symmetric", "spd", "psd", "orthogonal", "diagonal",
                                  "invertible", "lower", "upper", "skew", "positive", "nonzero",
                                  "integer"]), max_size=3).map(" ".join)
valid_declarations = st.one_of(
    st.builds("scalar {}".format, words), st.builds("vector {} {}".format, dims, words),
    st.builds("matrix {} {} {}".format, dims, dims, words),
    st.builds("{} {} {}".format, st.sampled_from(["spd", "symmetric", "orthogonal", "diagonal",
                                                  "square", "lower", "skew"]), dims, words))


@BUDGET
@given(st.one_of(any_text, valid_declarations, mutated(valid_declarations),
                 st.none(), st.integers(), st.lists(st.text(max_size=5), max_size=3)))
def test_declarations(text):
    decl = outcome("declarations", parse_decl, text)
    if isinstance(decl, Decl):
        assert parse_decl(str(decl)) == decl


# -- the loader -------------------------------------------------------------------

RECORD = {"id": "fuzzed-record", "title": "A record to mutate", "kind": "derivative",
          "symbols": {"A": "matrix m n", "X": "matrix n m", "B": "matrix m m"},
          "wrt": "X", "lhs": "tr(A @ X @ B)", "rhs": "A.T @ B.T", "cookbook": 101,
          "tags": ["trace", "matrix"], "notes": "Tr(AXB) derivative."}
FIELDS = sorted(RECORD) + ["layout", "conditions", "refs", "erratum", "bogus"]

yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=20), st.sampled_from(["yes", "no", "1e-3", "\\frac", "X", "matrix n n"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


@st.composite
def mutated_records(draw):
    """A list of records derived from RECORD: fields dropped, replaced or added."""
    records = []
    for k in range(draw(st.integers(1, 3))):
        rec = dict(RECORD, id=f"fuzzed-record-{k}")
        for _ in range(draw(st.integers(0, 3))):
            field = draw(st.sampled_from(FIELDS))
            if draw(st.booleans()):
                rec.pop(field, None)
            else:
                rec[field] = draw(yaml_values)
        records.append(rec)
    return records


def _load_text(path, text):
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return load(path, base=path.parent)


def _check_loaded(result, name):
    if isinstance(result, CatalogueError):
        assert result.errors
        for err in result.errors:
            assert err.file == name and err.code in CODES, str(err)
            assert err.line is None or err.line >= 1, str(err)
    else:
        assert isinstance(result, Catalogue)


@FILES
@given(mutated_records())
def test_loader_on_mutated_records(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("records") / "records.yaml"
    text = yaml.safe_dump(records, sort_keys=False, allow_unicode=True)
    _check_loaded(outcome("loader/records", lambda t: _load_text(path, t), text), "records.yaml")


@FILES
@given(mutated(st.just(yaml.safe_dump([RECORD], sort_keys=False))))
def test_loader_on_mutated_text(tmp_path_factory, text):
    text = text[:LOADER_CHARS]
    path = tmp_path_factory.mktemp("text") / "text.yaml"
    _check_loaded(outcome("loader/text", lambda t: _load_text(path, t), text), "text.yaml")


@FILES
@given(st.binary(max_size=400))
def test_loader_on_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "bytes.yaml"

    def run(raw):
        path.write_bytes(raw)
        return load(path, base=path.parent)
    _check_loaded(outcome("loader/bytes", run, data), "bytes.yaml")
