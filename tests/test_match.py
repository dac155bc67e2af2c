"""Tests of the matcher: matident.lookup, its internal API and `matident lookup`."""
import json
import subprocess
import sys

import pytest

import matident
from matident.errors import UsageError
from matident.index import Index, Pattern
from matident.match import Lookup, Query, lookup, match_record, unify
from matident.normal import Normalizer
from matident.structure import Structure
from matident.parse import parse_expr
from matident.printing import to_text
from matident.shapes import infer

from conftest import ROOT

RECORDS = """\
- id: t-xa
  title: gradient of tr(X A)
  kind: derivative
  symbols: {X: matrix m n, A: matrix n m}
  wrt: X
  lhs: tr(X @ A)
  rhs: A.T
  cookbook: 100
  tags: [trace]
- id: t-axb
  title: gradient of tr(A X B)
  kind: derivative
  symbols: {A: matrix p m, X: matrix m n, B: matrix n p}
  wrt: X
  lhs: tr(A @ X @ B)
  rhs: A.T @ B.T
  cookbook: 101
  tags: [trace]
- id: t-logdet-spd
  title: gradient of logdet for SPD X
  kind: derivative
  symbols: {X: spd n}
  wrt: X
  lhs: logdet(X)
  rhs: inv(X)
  tags: [logdet]
- id: t-xtbx-sym
  title: gradient of x^T B x for symmetric B
  kind: derivative
  symbols: {x: vector n, B: symmetric n}
  wrt: x
  lhs: x.T @ B @ x
  rhs: 2 * B @ x
  tags: [quadratic-form]
- id: t-xtbx
  title: gradient of x^T B x
  kind: derivative
  symbols: {x: vector n, B: matrix n n}
  wrt: x
  lhs: x.T @ B @ x
  rhs: (B + B.T) @ x
  tags: [quadratic-form]
- id: t-atxb
  title: gradient of a^T X b
  kind: derivative
  symbols: {a: vector m, X: matrix m n, b: vector n}
  wrt: X
  lhs: a.T @ X @ b
  rhs: a @ b.T
  tags: [linear-form]
- id: t-woodbury
  title: Woodbury identity
  kind: identity
  symbols: {A: matrix n n invertible, U: matrix n k, C: matrix k k invertible, V: matrix k n}
  lhs: inv(A + U @ C @ V)
  rhs: inv(A) - inv(A) @ U @ inv(inv(C) + V @ inv(A) @ U) @ V @ inv(A)
  conditions: ['inv(C) + V inv(A) U is invertible']
  tags: [inverse, woodbury]
- id: t-inv-spd-quad
  title: inverse of an SPD matrix in a quadratic form
  kind: derivative
  symbols: {x: vector n, S: spd n}
  wrt: x
  lhs: x.T @ inv(S) @ x
  rhs: 2 * inv(S) @ x
  tags: [quadratic-form, inverse]
- id: t-product-rule
  title: product rule
  kind: differential
  symbols: {X: matrix m n, Y: matrix n p}
  wrt: [X, Y]
  lhs: X @ Y
  rhs: dX @ Y + X @ dY
  tags: [product-rule]
- id: t-det-product
  title: determinant of a product
  kind: identity
  symbols: {A: square n, B: square n}
  lhs: det(A @ B)
  rhs: det(A) * det(B)
  tags: [determinant]
- id: t-quad-symmetric-part
  title: a quadratic form sees the symmetric part
  kind: identity
  symbols: {x: vector n, A: matrix n n}
  lhs: x.T @ A @ x
  rhs: x.T @ (A + A.T) @ x / 2
  tags: [quadratic-form]
- id: t-quad-as-sum
  title: a quadratic form as a sum
  kind: identity
  symbols: {x: vector n, A: matrix n n}
  lhs: x.T @ A @ x
  rhs: sum(x * (A @ x))
  tags: [quadratic-form]
- id: t-transpose-product
  title: transpose of a product (applied implicitly)
  kind: identity
  symbols: {A: matrix m n, B: matrix n p}
  lhs: (A @ B).T
  rhs: B.T @ A.T
  tags: [transpose]
"""


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    path = tmp_path_factory.mktemp("cat") / "records.yaml"
    path.write_text(RECORDS, encoding="utf-8")
    return matident.load(path)


def find(found, rid, whole=True):
    out = [m for m in found if m.identity.id == rid and m.whole == whole]
    return out[0] if out else None


def text(tree):
    return to_text(tree)


# -- what is found ----------------------------------------------------------------

def test_trace_of_product_with_the_variable_in_the_middle(cat):
    found = lookup("tr(A @ X @ B)", "X", catalogue=cat)
    m = find(found, "t-axb")
    assert m is not None and not m.conditions and m.wrt == "X"
    assert text(m.result_tree) == "A.T @ B.T"
    assert {n: text(t) for n, t in m.bindings_tree.items()} == {"A": "A", "X": "X", "B": "B"}
    assert found[0].whole and found[0].identity.kind == "derivative"


def test_a_product_of_constants_binds_one_wildcard(cat):
    m = find(lookup("tr(P @ Q @ Y @ R)", "Y", catalogue=cat), "t-axb")
    assert text(m.bindings_tree["A"]) == "P @ Q" and text(m.bindings_tree["B"]) == "R"
    assert text(m.result_tree) == "Q.T @ P.T @ R.T"


def test_the_coefficient_is_carried_into_the_result(cat):
    m = find(lookup("3 * tr(A @ Y)", "Y", catalogue=cat), "t-xa")
    assert text(m.result_tree) == "3 * A.T"
    assert text(m.target_tree) == "3 * tr(A @ Y)"


@pytest.mark.parametrize("query", ["tr(B @ A @ X)", "tr(X.T @ A.T @ B.T)", "tr((A @ X @ B).T)",
                                   "tr((B @ A) @ X)"])
def test_traces_match_under_rotation_and_transposition(cat, query):
    m = find(lookup(query, "X", catalogue=cat), "t-xa")
    assert m is not None and not m.conditions
    q = Query(query)
    expected = q.norm.normal(infer(parse_expr("(B @ A).T"), q.decls).expr)
    assert m.result_normal == expected


def test_a_1x1_product_matches_in_both_orientations(cat):
    for query in ("c.T @ Y @ d", "d.T @ Y.T @ c", "(c.T @ Y @ d).T"):
        m = find(lookup(query, "Y", catalogue=cat), "t-atxb")
        assert m is not None, query
        assert text(m.result_tree) == "c @ d.T"


def test_a_factor_may_be_absent_and_is_bound_to_the_identity(cat):
    found = lookup("tr(X @ B)", "X", catalogue=cat)
    exact, absent = find(found, "t-xa"), find(found, "t-axb")
    assert exact is not None and absent is not None
    (name,) = absent.absent
    assert text(absent.bindings_tree[name]) == "I" and "I" in absent.binding_text()
    assert found.index(exact) < found.index(absent)
    assert absent.result_normal == exact.result_normal


def test_identity_records_apply_without_wrt(cat):
    m = find(lookup("inv(P + Q @ R @ T)", symbols={"P": "matrix n n invertible", "Q": "matrix n k",
                                                    "R": "matrix k k invertible", "T": "matrix k n"},
                    catalogue=cat), "t-woodbury")
    assert m.wrt is None
    assert m.conditions == ("inv(C) + V inv(A) U is invertible",)      # the record's own text
    assert text(m.result_tree).startswith("inv(P) - inv(P) @ Q @ inv(")


def test_woodbury_with_undeclared_shapes_asks_for_a_square_core(cat):
    m = find(lookup("inv(A + U @ C @ V)", catalogue=cat), "t-woodbury")
    assert "C is square" in m.conditions
    assert "A is invertible" in m.conditions and "C is invertible" in m.conditions
    assert m.result.shape[0] == m.target.shape[0]             # SymPy, with C made square


def test_derivative_records_without_wrt_name_the_variable(cat):
    found = lookup("tr(A @ X @ B)", catalogue=cat)
    assert {m.wrt for m in found if m.identity.id == "t-axb"} >= {"X"}
    assert all(m.wrt is not None for m in found if m.identity.kind == "derivative")


def test_sub_expressions_follow_the_whole_query(cat):
    found = lookup("tr(A @ X) + tr(A @ X @ B)", "X", catalogue=cat)
    assert found and not any(m.whole for m in found)
    ids = [(m.identity.id, text(m.target_tree)) for m in found]
    assert ("t-xa", "tr(A @ X)") in ids and ("t-axb", "tr(A @ X @ B)") in ids


def test_order_whole_first_then_unconditional_first(cat):
    found = lookup("x.T @ B @ x", "x", catalogue=cat)
    keys = [(not m.whole, bool(m.conditions)) for m in found]
    assert keys == sorted(keys)
    assert find(found, "t-xtbx").conditions == ()
    assert find(found, "t-xtbx-sym").conditions == ("B is symmetric",)


def test_no_duplicates(cat):
    found = lookup("tr(A @ X @ A)", "X", catalogue=cat)
    keys = [(m.identity.id, m.core, m.wrt) for m in found]
    assert len(keys) == len(set(keys))


def test_limit_and_work_budget(cat):
    assert len(lookup("tr(A @ X @ B)", "X", catalogue=cat, limit=1)) == 1
    big = " + ".join(f"tr(A{i} @ X @ B{i})" for i in range(40))
    found = lookup(big, "X", catalogue=cat, budget=20)
    assert isinstance(found, Lookup) and not found.complete and found.steps == 20
    assert "stopped after 20 matching steps" in str(found)


def test_product_rule_with_a_constant_factor(cat):
    m = find(lookup("X @ Y", "X", catalogue=cat), "t-product-rule")
    assert text(m.result_tree) == "dX @ Y"
    m = find(lookup("X @ X", "X", catalogue=cat), "t-product-rule")
    assert text(m.result_tree) == "X @ dX + dX @ X" or text(m.result_tree) == "dX @ X + X @ dX"


def test_identities_that_the_normal_form_applies_are_reported_only_for_their_lhs(cat):
    """(AB)^T = B^T A^T is applied implicitly: not reported for what merely normalises alike
    (its rhs, a larger sum), but a user who types its lhs gets it (issue 14)."""
    found = [m for m in lookup("(P @ Q).T", catalogue=cat) if m.identity.id == "t-transpose-product"]
    assert [m.statement() for m in found] == ["(P @ Q).T = Q.T @ P.T"]
    assert not [m for m in lookup("Q.T @ P.T", catalogue=cat) if m.identity.id == "t-transpose-product"]


def test_an_identity_that_gives_the_target_back_is_dropped_alone(cat):
    found = lookup("y.T @ S @ y", symbols={"S": "symmetric n"}, catalogue=cat)
    assert find(found, "t-quad-symmetric-part") is None          # (S + S^T)/2 = S: says nothing
    assert text(find(found, "t-quad-as-sum").result_tree) == "sum(y * (S @ y))"
    assert find(lookup("y.T @ B @ y", catalogue=cat), "t-quad-symmetric-part") is not None


@pytest.mark.parametrize("query, decls, expected", [
    ("X @ X", None, False),                          # D E = E D with D = E = X
    ("D @ D @ D", {"D": "diagonal n"}, False),       # with D = D, E = D @ D (or the other way)
    ("A @ B", {"A": "diagonal n", "B": "diagonal n"}, True),
    ("B @ A @ C", {"A": "diagonal n", "B": "diagonal n", "C": "diagonal n"}, True),
])
def test_a_commutation_that_gives_the_target_back_is_dropped(query, decls, expected):
    found = matident.lookup(query, symbols=decls)
    assert (find(found, "diagonal-matrices-commute") is not None) == expected


def test_an_identity_whose_rhs_drops_symbols_is_kept():
    # Q Q^T = I cannot give Q Q^T back: its rhs keeps no symbol of the target
    m = find(matident.lookup("Q @ Q.T", symbols={"Q": "orthogonal n"}), "orthogonal-times-transpose-right")
    assert m is not None and not m.conditions and text(m.result_tree) == "I"


def test_a_normalizer_over_equated_sizes_shares_normal_forms_not_shapes():
    decls = infer(parse_expr("A @ B"), {}, implicit=True).symbols
    base = Normalizer(decls)
    tree = infer(parse_expr("(A @ B).T"), decls).expr
    rows, cols = decls["A"].rows, decls["A"].cols
    square = base.over({**decls, "A": type(decls["A"])("matrix", rows, rows, ())})
    assert base.normal(tree) is square.normal(tree)          # one memo table
    assert base.shape(parse_expr("A")) == (rows, cols)
    assert square.shape(parse_expr("A")) == (rows, rows)
    # extensions never share: two matches may each bring their own free symbol c
    c_t = parse_expr("c.T")
    as_scalar = base.extended({"c": infer(parse_expr("c"), {"c": "scalar"}).symbols["c"]})
    as_vector = base.extended({"c": infer(parse_expr("c"), {"c": "vector k"}).symbols["c"]})
    assert text(as_scalar.normal(c_t)) == "c" and text(as_vector.normal(c_t)) == "c.T"


# -- structure and conditions -----------------------------------------------------------

def test_a_side_condition_that_is_not_established_is_reported(cat):
    m = find(lookup("logdet(Y)", "Y", catalogue=cat), "t-logdet-spd")
    assert m.conditions == ("Y is spd",)
    m = find(lookup("logdet(Y)", "Y", symbols={"Y": "spd n"}, catalogue=cat), "t-logdet-spd")
    assert m.conditions == ()


def test_structure_is_inferred_from_the_query(cat):
    symbols = {"X": "matrix m n", "lam": "scalar positive"}
    m = find(lookup("x.T @ inv(X.T @ X + lam * I) @ x", "x", symbols=symbols, catalogue=cat),
             "t-inv-spd-quad")
    assert m.conditions == ()
    m = find(lookup("x.T @ inv(X.T @ X + mu * I) @ x", "x", symbols={"mu": "scalar"}, catalogue=cat),
             "t-inv-spd-quad")
    assert m.conditions == ("mu * I + X.T @ X is spd",)


@pytest.mark.parametrize("text_, word, decls, expected", [
    ("X.T @ X", "symmetric", {}, True), ("A + A.T", "symmetric", {}, True),
    ("A @ B", "symmetric", {}, False),
    ("P @ S @ P.T", "spd", {"S": "spd n", "P": "matrix n n invertible"}, True),
    ("P @ S @ P.T", "spd", {"S": "spd n"}, False), ("inv(S)", "spd", {"S": "spd n"}, True),
    ("inv(S).T", "symmetric", {"S": "symmetric n"}, True), ("A - A.T", "skew", {}, True),
    ("Q1 @ Q2.T", "orthogonal", {"Q1": "orthogonal n", "Q2": "orthogonal n"}, True),
    ("x.T @ S @ x", "positive", {"S": "spd n", "x": "vector n nonzero"}, True),
    ("x.T @ S @ x", "positive", {"S": "spd n"}, False),
    ("exp(a.T @ x) + 1", "positive", {}, True),
    ("D1 @ D2", "diagonal", {"D1": "diagonal n", "D2": "diagonal n"}, True),
    ("L.T", "upper", {"L": "lower n"}, True),
])
def test_structure_words(text_, word, decls, expected):
    typed = infer(parse_expr(text_), decls, implicit=True)
    norm = Normalizer(typed.symbols)
    assert Structure(norm).holds(word, norm.normal(typed.expr)) is expected


def test_a_structured_variable_gets_the_projected_gradient(cat):
    m = find(lookup("tr(A @ X)", "X", symbols={"X": "symmetric n"}, catalogue=cat), "t-xa")
    assert text(m.result_tree) == "(A + A.T) / 2"
    m = find(lookup("tr(A @ X)", "X", symbols={"X": "diagonal n"}, catalogue=cat), "t-xa")
    assert text(m.result_tree) == "diag(diagvec(A))"


# -- what must not match -----------------------------------------------------------------

def test_the_variable_never_binds_a_constant_slot(cat):
    for query in ("tr(X @ X @ B)", "tr(A @ X @ X)", "tr(X @ X)"):
        for m in lookup(query, "X", catalogue=cat):
            if m.identity.kind == "derivative":
                assert all("X" not in t.symbols() for n, t in m.bindings_tree.items()
                           if n not in m.pattern.variables), (query, str(m))
    assert find(lookup("tr(X @ X)", "X", catalogue=cat), "t-xa") is None


def test_a_violated_side_condition_is_never_unconditional(cat):
    # B is declared but not symmetric: the symmetric-B record may show, but marked
    m = find(lookup("x.T @ B @ x", "x", symbols={"B": "matrix n n"}, catalogue=cat), "t-xtbx-sym")
    assert m is not None and m.conditions
    # declared skew: the symmetric record cannot establish symmetry
    m = find(lookup("x.T @ K @ x", "x", symbols={"K": "skew n"}, catalogue=cat), "t-xtbx-sym")
    assert m is None or m.conditions


def test_shapes_must_agree(cat):
    # a^T X b needs a vector on the left; a matrix there is a different expression
    assert find(lookup("A @ X @ b", "X", catalogue=cat), "t-atxb") is None


@pytest.mark.parametrize("decls, found", [
    ({"A": "matrix 3 3"}, True),
    ({"A": "matrix 2 2"}, False),
    (None, False),                                   # undeclared sizes are never 3
    ({"A": "matrix n n", "B": "matrix 3 3"}, False),
])
def test_a_record_stated_for_a_numeric_size_needs_that_size(decls, found):
    # det(-A) = -det(A) is stated for 3 x 3 matrices; the index skips it for queries without
    # numeric sizes, and must not skip it when there are some
    got = [m.identity.id for m in lookup("det(-A)", symbols=decls)]
    assert ("det-of-negated-matrix-odd-size" in got) is found


def test_a_numeric_size_made_by_a_product_of_sizes_counts():
    kron = lookup("det(-kron(A, B))", symbols={"A": "matrix 3 3", "B": "matrix 1 1"})
    assert "det-of-negated-matrix-odd-size" in [m.identity.id for m in kron]


def test_wrt_must_occur():
    with pytest.raises(UsageError):
        lookup("tr(A @ X)", "Z")


# -- internal API -----------------------------------------------------------------------

def test_match_record_and_unify(cat):
    query = Query("tr(P @ Y @ R)")
    matches = match_record(cat["t-axb"], query, wrt="Y")
    assert [text(m.result_tree) for m in matches] == ["P.T @ R.T"]
    bindings = list(unify(Pattern(cat["t-xa"]), query.normal, query.norm, "Y"))
    assert bindings and text(bindings[0].values["A"]) == "R @ P"


def test_the_index_is_cached_on_disk(tmp_path, monkeypatch):
    from matident import index as index_module
    monkeypatch.setenv("MATIDENT_CACHE_DIR", str(tmp_path))
    index_module.shipped_index.cache_clear()
    try:
        built = index_module.shipped_index()
        (path,) = tmp_path.glob("index-*.pickle")
        index_module.shipped_index.cache_clear()
        loaded = index_module.shipped_index()
        assert loaded is not built and (len(loaded), loaded.groups) == (len(built), built.groups)
        assert find(lookup("tr(A @ X @ B)", "X", catalogue=loaded), "trace-axb-derivative")
        path.write_bytes(b"not a pickle")                       # a broken cache is rebuilt
        index_module.shipped_index.cache_clear()
        assert len(index_module.shipped_index()) == len(built)
    finally:
        index_module.shipped_index.cache_clear()


def test_renamed_copies_share_a_group(cat):
    index = Index(list(cat) + list(cat))      # the same records twice: one group each
    assert index.groups == len([r for r in cat if not Pattern(r).trivial])



def test_an_index_pickled_after_lookups_matches_alike(cat):
    # the matcher memoises facts on the patterns, some by node identity: never pickled
    import pickle
    index = Index(cat)
    before = [str(m) for m in lookup("tr(A @ X @ B)", "X", catalogue=index)]
    assert any(g.rep.plans for gs in index.buckets.values() for g in gs)
    copy = pickle.loads(pickle.dumps(index))
    assert not any(g.rep.plans for gs in copy.buckets.values() for g in gs)
    assert [str(m) for m in lookup("tr(A @ X @ B)", "X", catalogue=copy)] == before


# -- SymPy boundary and display ------------------------------------------------------------

def test_sympy_in_and_out(cat):
    import sympy
    n = sympy.Symbol("n", integer=True, positive=True)
    A, X = sympy.MatrixSymbol("A", n, n), sympy.MatrixSymbol("X", n, n)
    found = lookup(sympy.Trace(A * X), X, catalogue=cat)
    m = find(found, "t-xa")
    assert m.result == A.T
    assert m.bindings["A"] == A and m.target == sympy.Trace(A * X)


def test_display(cat):
    m = find(lookup("tr(A @ X @ B)", "X", catalogue=cat), "t-axb")
    line = str(m)
    assert "\n" not in line and "d/dX tr(A @ X @ B) = A.T @ B.T" in line and "t-axb" in line
    assert m.latex() == (r"\frac{\partial}{\partial X} \left(\operatorname{tr}\left(A X B\right)\right)"
                         r" = A^{T} B^{T}")
    assert m._repr_latex_().startswith("$") and "t-axb" in m._repr_latex_()
    data = m.as_dict()
    assert data["id"] == "t-axb" and data["result"] == "A.T @ B.T" and data["bindings"]["A"] == "A"


def test_import_is_light():
    code = "import sys, matident.match; assert 'sympy' not in sys.modules, 'sympy imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# -- the shipped catalogue and the command line -----------------------------------------------

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "matident", "lookup", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_shipped_catalogue_trace_axb():
    found = matident.lookup("tr(A @ X @ B)", wrt="X")
    m = find(found, "trace-axb-derivative")
    assert m is not None and not m.conditions and text(m.result_tree) == "A.T @ B.T"


def test_an_undeclared_size_is_never_equated_with_1():
    # x.T @ x is no product of two square matrices: the vector x must not become a 1x1 "square"
    found = matident.lookup("x.T @ x")
    assert found and not any("square" in c or "= 1" in c for m in found for c in m.conditions)
    assert find(found, "diagonal-matrices-commute") is None
    assert find(found, "orthogonal-times-transpose-right") is None


def test_results_drop_identity_factors_and_the_1x1_identity():
    found = matident.lookup("x.T @ x", wrt="x")
    m = find(found, "xtbx-derivative")                    # (B + B^T) x at B = I
    assert m is not None and m.binding_text() == "B = I" and text(m.result_tree) == "2 * x"
    m = find(matident.lookup("lam * tr(X)", wrt="lam"), "scaled-identity-jacobian")
    assert m is not None and text(m.result_tree) == "tr(X)"     # not I * tr(X) with a 1x1 I


def test_normal_form_of_scaled_identity_factors():
    norm = Normalizer({"x": infer(parse_expr("x"), {"x": "vector n"}).symbols["x"]})
    two_i_x = parse_expr("(2 * I) @ x")
    typed = infer(two_i_x, {"x": "vector n"}, implicit=True)
    assert text(norm.normal(typed.expr)) == "2 * x"


def test_product_dimensions_bind_under_any_names():
    # inner-product-vec declares w: vector m*n; the query's sizes have other names
    for decls in ({"v": "vector p*q", "A": "matrix p q"}, {"v": "vector q*p", "A": "matrix p q"}):
        m = find(matident.lookup("tr(v.T @ vec(A))", symbols=decls), "inner-product-vec")
        assert m is not None and not m.conditions and m.binding_text() == "w = v, M = A"


def test_cli_lookup_trace():
    out = run_cli("tr(A @ X @ B)", "--wrt", "X")
    assert out.returncode == 0, out.stderr
    assert "d/dX tr(A @ X @ B) = A.T @ B.T" in out.stdout and "trace-axb-derivative" in out.stdout


def test_cli_lookup_woodbury():
    if "woodbury-identity" not in matident.catalogue():
        pytest.skip("the shipped catalogue has no woodbury-identity record")
    out = run_cli("inv(A + U @ C @ V)")
    assert out.returncode == 0, out.stderr
    assert "woodbury-identity" in out.stdout and "provided: C is square" in out.stdout


def test_cli_json_latex_and_symbols():
    out = run_cli("logdet(S)", "--wrt", "S", "--symbol", "S=spd n", "--json")
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["complete"] and data["matches"]
    first = data["matches"][0]
    assert first["wrt"] == "S" and first["conditions"] == [] and first["latex"]
    out = run_cli("tr(A @ X @ B)", "--wrt", "X", "--latex", "--limit", "2")
    assert "latex: " in out.stdout and "(showing the first 2" in out.stdout


def test_cli_errors():
    assert run_cli("tr(A @ X", "--wrt", "X").returncode == 2
    assert run_cli("tr(A @ X)", "--symbol", "X").returncode == 2
    out = run_cli("6")
    assert out.returncode == 1 and "no matching identity" in out.stdout, out.stdout
