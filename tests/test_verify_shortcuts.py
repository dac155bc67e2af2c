"""The verifier's shortcuts give the verdicts of the long way: the inverse's conditioning guard
(a norm bound before any SVD), and the size limits read from each record's sized parts
(computed when the catalogue is built, kept in its disk cache)."""
import copy
import importlib
import pickle

import numpy as np
import pytest

import matident
from matident.catalogue import catalogue
from matident.evaluate import SINGULAR_COND, EvaluationError, evaluate
from matident.parse import parse_expr
from matident.shapes import infer, parse_decl, sized_parts

EV = importlib.import_module("matident.evaluate")
V = importlib.import_module("matident.verify")
catalogue_module = importlib.import_module("matident.catalogue")


def _with_condition(n, cond, rng):
    """A random n x n matrix whose singular values run from 1 to 1 / cond (0 for cond = inf)."""
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = np.geomspace(1.0, 1.0 / cond, n) if np.isfinite(cond) else np.r_[np.ones(n - 1), 0.0]
    return (u * s) @ v.T


def _the_long_way(m):
    """The guard as it was: the condition number by SVD, then numpy's inverse."""
    if np.linalg.cond(m) > SINGULAR_COND:
        raise EvaluationError("inv() of a near-singular matrix")
    return np.linalg.inv(m)


def _outcome(f, m):
    try:
        with np.errstate(all="ignore"):         # as under evaluate()
            return "value", f(m).tobytes()
    except (EvaluationError, np.linalg.LinAlgError) as exc:
        return type(exc).__name__, str(exc)


CONDITIONS = [1.0, 10.0, 1e3, 1e5, 2e5, 4.9e5, 5e5, 5.1e5, 9e5, 0.999e6, 1.001e6, 1.1e6, 3e6, 6e6, 1e8, 1e15,
              np.inf]


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_the_inverse_guard_agrees_with_the_svd_on_both_sides_of_the_limit(n):
    rng = np.random.default_rng(n)
    for cond in CONDITIONS:
        for scale in (1e-3, 1.0, 1e4):
            m = scale * _with_condition(n, cond, rng)
            assert _outcome(EV._inverse, m) == _outcome(_the_long_way, m), (n, cond, scale)


def test_the_inverse_guard_refuses_what_is_not_finite_and_exactly_singular_matrices():
    for m in (np.array([[1.0, np.nan], [0.0, 1.0]]), np.array([[np.inf, 0.0], [0.0, 1.0]]),
              np.zeros((3, 3)), np.ones((4, 4))):
        assert _outcome(EV._inverse, m) == _outcome(_the_long_way, m)
    typed = infer(parse_expr("inv(X)"), {"X": parse_decl("matrix n n")})
    with pytest.raises(EvaluationError, match="near-singular"):
        evaluate(typed.expr, {"X": np.ones((3, 3))}, {"n": 3})


# -- the size limits read each record's sized parts, computed when the catalogue is built ------

def _too_large_by_walking(record, rhs):
    """The size check as it was: every distinct sub-tree's shape, symbols first."""
    from matident import expr as E
    from matident.printing import to_text
    from matident.shapes import dim_size, shape_of
    sizes = {n: V.SIZE_RANGE[1] for n in V._dim_names(record.symbols)}
    nodes = dict.fromkeys(node for side in (record.lhs_expr, rhs) for node in side.walk())
    memo = {}
    for node in sorted(nodes, key=lambda n: n.op != E.SYM):
        try:
            r, c = (dim_size(d, sizes) for d in shape_of(node, record.symbols, memo))
        except (KeyError, TypeError, AssertionError):
            continue
        limit = V.MAX_VALUE_ENTRIES if node.op == E.SYM else V.MAX_ENTRIES
        if r * c > limit:
            return (f"too large to check numerically: '{to_text(node)[:40]}' would have "
                    f"{r:,} x {c:,} entries (the limit is {limit:,})")
    return ""


@pytest.mark.parametrize("limits", [(None, None), (30, 30), (20, 50), (4, 12), (0, 0)],
                         ids=["shipped", "small", "values-smaller", "tiny", "zero"])
def test_every_record_gets_the_size_verdict_of_a_full_walk(monkeypatch, limits):
    """At the shipped limits nothing is too large; at smaller ones many records are, and the
    message names the same part as a walk over every sub-tree would."""
    if limits[0] is not None:
        monkeypatch.setattr(V, "MAX_VALUE_ENTRIES", limits[0])
        monkeypatch.setattr(V, "MAX_ENTRIES", limits[1])
    records = list(catalogue())
    verdicts = [V._too_large(r, r.rhs_expr) for r in records]
    assert verdicts == [_too_large_by_walking(r, r.rhs_expr) for r in records]
    other = [V._too_large(r, r.lhs_expr) for r in records]           # another rhs: computed afresh
    assert other == [_too_large_by_walking(r, r.lhs_expr) for r in records]
    if limits[0] is None:
        assert not any(verdicts)
    else:
        assert any(verdicts) and (all(verdicts) or limits != (0, 0))


def test_a_record_read_from_the_disk_cache_keeps_its_parts_and_a_copy_with_new_sides_does_not():
    record = catalogue()["trace-axb-derivative"]
    again = pickle.loads(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
    assert again.sized_parts == record.sized_parts == sized_parts((record.lhs_expr, record.rhs_expr),
                                                                  record.symbols)
    assert again._sized[0] is again.lhs_expr       # read back with its sides, not recomputed
    other = copy.copy(record)
    other.rhs_expr = parse_expr("kron(kron(A, A), kron(B, B))")       # a statement() copy, say
    other.rhs_expr = infer(other.rhs_expr, record.symbols).expr
    assert other.sized_parts == sized_parts((other.lhs_expr, other.rhs_expr), other.symbols)
    assert other.sized_parts != record.sized_parts


def test_an_edited_identity_file_gets_a_new_size_verdict_through_the_disk_cache(tmp_path, monkeypatch):
    folder = tmp_path / "identities"
    folder.mkdir()
    (folder / "one.yaml").write_text(ONE.format(decl="matrix n n"), encoding="utf-8")
    real = catalogue_module.data_dir
    monkeypatch.setattr(catalogue_module, "data_dir", lambda name: folder if name == "identities" else real(name))
    monkeypatch.setenv("MATIDENT_CACHE_DIR", str(tmp_path / "cache"))
    build = catalogue_module.catalogue.__wrapped__          # without the per-process lru_cache
    first = build()["sized-one"]
    assert len(list((tmp_path / "cache").glob("catalogue-*.pickle"))) == 1
    cached = build()["sized-one"]                           # read back from the disk cache
    assert cached is not first and V._too_large(cached, cached.rhs_expr) == ""
    (folder / "one.yaml").write_text(ONE.format(decl="matrix 5000 5000"), encoding="utf-8")
    edited = build()["sized-one"]
    assert V._too_large(edited, edited.rhs_expr) == (
        "too large to check numerically: 'X' would have 5,000 x 5,000 entries (the limit is 4,096)")
    assert matident.verify([edited]).inconclusive == 1


ONE = """\
- id: sized-one
  title: Trace of a transpose
  kind: identity
  symbols: {{X: {decl}}}
  lhs: tr(X.T)
  rhs: tr(X)
  tags: [trace]
"""
