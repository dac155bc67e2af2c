"""The verifier rejects wrong identities, and its reports are reproducible.

* ``tests/fixtures/wrong/*.yaml``: deliberately wrong records (flipped
  transpose, wrong sign, swapped factors, missing term, violated structure,
  changed scalar factor); each must fail, on every seed, with its exact message.
* Copies of the shipped catalogue with every rhs negated or doubled fail record
  by record through the CLI, with exit code 1.
* The same seed gives the same JSON report byte for byte; results do not depend
  on the order of the records.
* Draws honour their declarations and are well conditioned; near-singular
  instances (inverses, unsettled finite differences) are redrawn, not counted.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from matident.catalogue import catalogue, data_dir, load
from matident.evaluate import EvaluationError, evaluate
from matident.parse import parse_expr
from matident.shapes import parse_decl

V = importlib.import_module("matident.verify")     # the module (matident.verify is the function)
WRONG = Path(__file__).parent / "fixtures" / "wrong"
SEEDS = range(10)

# id -> the start of the message ("tolerance" for a plain numeric mismatch)
STRUCTURE = ("the gradient with respect to the structured variable X must lie in its "
             "structure ({}); it is off by ")
EXPECTED = {
    "wrong-condition-number-frobenius-as-singular-value-ratio": "tolerance",
    "wrong-gaussian-whitening-mean-uncentred": "tolerance",
    "wrong-gaussian-entropy-without-dimension-term": "tolerance",
    "wrong-trace-axb-transpose-flipped": "tolerance",
    "wrong-trace-ax-gradient-transposed": "tolerance",
    "wrong-inverse-of-product-order": "tolerance",
    "wrong-transpose-of-product-order": "tolerance",
    "wrong-inverse-differential-sign": "tolerance",
    "wrong-logdet-gradient-sign": "tolerance",
    "wrong-inverse-quadratic-sign": "tolerance",
    "wrong-quadratic-form-missing-term": "tolerance",
    "wrong-product-rule-missing-term": "tolerance",
    "wrong-least-squares-missing-term": "tolerance",
    "wrong-symmetric-gradient-not-symmetric": STRUCTURE.format("square, symmetric"),
    "wrong-quadratic-form-needs-symmetry": "tolerance",
    "wrong-inverse-is-transpose": "tolerance",
    "wrong-diagonal-gradient-full": STRUCTURE.format("diagonal, square, symmetric"),
    "wrong-toeplitz-gradient-unconstrained": STRUCTURE.format("square, toeplitz"),
    "wrong-symmetric-toeplitz-gradient-not-symmetric": STRUCTURE.format("square, symmetric, toeplitz"),
    "wrong-toeplitz-gradient-symmetric-projection": STRUCTURE.format("square, symmetric, toeplitz"),
    "wrong-toeplitz-sum-self-inverse": "tolerance",
    "wrong-xtx-gradient-factor": "tolerance",
    "wrong-determinant-scaling": "tolerance",
    "wrong-square-differential-commuted": "tolerance",
    "wrong-small-offset": "tolerance",
    "wrong-trace-of-non-commutator": "tolerance",
    "wrong-quadratic-form-of-symmetric-vanishes": "tolerance",
    "wrong-stars-square-is-matrix-square": "tolerance",
    "wrong-division-is-matrix-division": "tolerance",
    "wrong-pinv-left-inverse-of-wide": "tolerance",
    "wrong-exponential-of-noncommuting-sum": "tolerance",
    "wrong-logarithm-of-product": "tolerance",
    "wrong-exponential-t-derivative-missing-factor": "tolerance",
    "wrong-square-root-of-sum": "tolerance",
    "wrong-single-entry-sandwich-indices-swapped": "tolerance",
    "wrong-idempotent-square-is-zero": "tolerance",
    "wrong-second-moment-missing-mean": "tolerance",
    "wrong-variance-of-quadratic-form-symmetric-formula": "tolerance",
    "wrong-fourth-moment-coefficient": "tolerance",
    "wrong-cubic-moment-missing-term": "tolerance",
    "wrong-block-determinant-product-of-diagonal-blocks": "tolerance",
    "wrong-block-inverse-sign": "tolerance",
    "wrong-block-transpose-without-swapping": "tolerance",
    "wrong-orthogonal-commutes-with-hadamard-product": "tolerance",
    "wrong-cramers-rule-row-replaced": "tolerance",
    "wrong-characteristic-polynomial-3x3-sign": "tolerance",
    "wrong-rectangular-products-same-characteristic-polynomial": "tolerance",
    "wrong-rank-deficient-system-solved-exactly": "tolerance",
    "wrong-eigenvalues-of-scaled-shift": "tolerance",
    "wrong-svd-left-vectors-with-right-gram": "tolerance",
    "wrong-mixture-covariance-unnormalised-weights": "tolerance",
    "wrong-mixture-covariance-without-spread-of-means": "tolerance",
    "wrong-conditional-covariance-schur-sign": "tolerance",
    "wrong-pinv-rank-one-update-case-1-beta-sign": "tolerance",
    "wrong-pinv-rank-one-update-sherman-morrison": "tolerance",
    "wrong-pinv-rank-one-update-case-6-outside-its-case": "tolerance",
    "wrong-gram-inverse-appended-column-corner-sign": "tolerance",
    "wrong-complex-conjugate-transpose-of-product-not-reversed": "tolerance",
    "wrong-complex-pseudo-inverse-of-plain-transpose": "tolerance",
    "wrong-inverse-of-sum-implication-without-hypothesis": "tolerance",
    "wrong-pseudo-inverse-from-svd-factors-not-orthonormal": "tolerance",
    "wrong-laplace-expansion-with-cofactor-matrix-transposed": "tolerance",
    "wrong-projector-of-tall-matrix-is-singular": "tolerance",
    "wrong-projector-of-wide-matrix-is-singular": "tolerance",
    "wrong-one-norm-as-largest-row-sum": "tolerance",
    "wrong-infinity-norm-as-largest-column-sum": "tolerance",
    "wrong-three-norm-without-root": "tolerance",
    # inequalities: a non-strict one fails by its relative violation, a strict one by its margin
    "wrong-triangle-inequality-reversed": "lhs >= rhs fails by ",
    "wrong-submultiplicativity-reversed": "lhs >= rhs fails by ",
    "wrong-two-norm-at-least-frobenius": "lhs >= rhs fails by ",
    "wrong-trace-of-spd-negative": "lhs < rhs fails: the margin ",
    "wrong-strict-inequality-that-is-an-equality": "lhs < rhs fails: the margin ",
}
INCONCLUSIVE = {"wrong-log-of-negative"}


@pytest.fixture(scope="module")
def wrong():
    return load(WRONG, base=WRONG)


def _line_of(record):
    text = (WRONG / record.file).read_text().splitlines()
    return text.index(f"- id: {record.id}") + 1


def test_fixtures_cover_every_record(wrong):
    assert {r.id for r in wrong} == set(EXPECTED) | INCONCLUSIVE


@pytest.mark.parametrize("rid", sorted(EXPECTED))
def test_wrong_record_fails_with_its_message(wrong, rid):
    record = wrong[rid]
    tol = V.IDENTITY_TOL if record.kind in ("identity", "inequality") else V.DERIVATIVE_TOL
    for seed in SEEDS:
        result = V.check_record(record, seed=seed)
        assert (result.status, result.id, result.seed) == ("failed", rid, seed)
        assert (result.file, result.line) == (record.file, _line_of(record))
        assert set(result.sizes) == set(V._dim_names(record.variables))
        assert result.error > 10 * tol, result.describe()
        if EXPECTED[rid] == "tolerance":
            assert result.message == f"relative error {result.error:.2e} exceeds the tolerance {tol:.0e}"
        elif record.kind == "inequality":
            assert result.message.startswith(EXPECTED[rid]), result.message
            assert f"(tolerance {tol:.0e})" in result.message or f"the tolerance {tol:.0e}" in result.message
            assert ", rhs = " in result.message, result.message      # the two values
        else:
            assert result.message == EXPECTED[rid] + f"{result.error:.1e}"


@pytest.mark.parametrize("rid", sorted(INCONCLUSIVE))
def test_undefined_record_is_inconclusive_not_passed(wrong, rid):
    result = V.check_record(wrong[rid], seed=0)
    assert result.status == "inconclusive" and result.error is None
    assert result.message == (f"no valid instance in {V.MAX_REDRAWS} draws "
                              "(value is not finite (outside the domain of a function))")


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "matident", "verify", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def test_cli_rejects_the_wrong_fixtures(wrong):
    run = _cli(WRONG, "--json")
    assert run.returncode == 1
    report = json.loads(run.stdout)
    status = {r["id"]: r["status"] for r in report["results"]}
    assert status == {**dict.fromkeys(EXPECTED, "failed"), **dict.fromkeys(INCONCLUSIVE, "inconclusive")}
    for record in wrong:
        assert f"{record.file}:{record.line}: {record.id}: " in run.stderr


# -- copies of the shipped catalogue with every rhs negated or doubled -------

def _is_zero(text):
    """An rhs that is identically zero (negating or doubling it changes nothing)."""
    tree = parse_expr(text)
    return (tree.op == "num" and tree.value == 0) or \
        (tree.op == "*" and tree.args[0].op == "num" and tree.args[0].value == 0)


@pytest.fixture(scope="module")
def shipped():
    return catalogue()


COMPLEMENT = {"<=": ">", ">=": "<", "<": ">=", ">": "<="}      # the negation of each relation


@pytest.mark.parametrize("change", ["-({})", "2 * ({})"], ids=["negated", "doubled"])
def test_changed_copy_of_the_catalogue_fails_record_by_record(tmp_path, shipped, change):
    files, root = [], data_dir("identities").parent
    for name in shipped.files:
        records = yaml.safe_load((root / name).read_text(encoding="utf-8"))
        for rec in records:
            if rec["kind"] == "inequality":     # a doubled upper bound still holds: state the negation
                rec["relation"] = COMPLEMENT[rec["relation"]]
            elif not _is_zero(rec["rhs"]):
                rec["rhs"] = change.format(rec["rhs"])
        target = tmp_path / name.replace("/", "__")
        target.write_text(yaml.safe_dump(records, sort_keys=False, allow_unicode=True), encoding="utf-8")
        files.append(target)
    run = _cli(*files, "--json")
    assert run.returncode == 1, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["invalid"] == 0, report["errors"][:3]
    zero = {r.id for r in shipped if _is_zero(r.rhs_text)}
    assert len(zero) <= len(shipped) // 50
    survivors = [r["id"] for r in report["results"] if r["status"] != "failed" and r["id"] not in zero]
    assert not survivors
    assert len(report["results"]) == len(shipped)


# -- reproducibility ------------------------------------------------------------

def test_same_seed_same_report_byte_for_byte():
    first, second = _cli("--json", "--seed", "7"), _cli("--json", "--seed", "7")
    assert first.stdout and first.stdout == second.stdout
    assert first.returncode == second.returncode
    other = _cli("--json", "--seed", "8")
    assert json.loads(other.stdout)["seed"] == 8 and other.stdout != first.stdout


def test_results_do_not_depend_on_the_order_of_records(shipped):
    records = list(shipped)[:60]
    forward = {r.id: r for r in V.verify(records, seed=3).results}
    backward = {r.id: r for r in V.verify(records[::-1], seed=3).results}
    alone = {r.id: V.check_record(shipped[r.id], seed=3) for r in records[::7]}
    assert forward == backward
    assert all(forward[rid] == result for rid, result in alone.items())


# -- numerical robustness of the draws --------------------------------------------

DECLARATIONS = ["matrix n n", "matrix n m", "vector n", "vector n positive", "scalar positive",
                "spd n", "psd n", "symmetric n", "skew n", "orthogonal n", "diagonal n",
                "matrix n n diagonal positive", "matrix n n spd diagonal", "lower n", "upper n",
                "matrix n n lower invertible", "matrix n n invertible symmetric", "matrix n m positive",
                "toeplitz n", "matrix n n toeplitz symmetric", "toeplitz n spd", "toeplitz n invertible"]


@pytest.mark.parametrize("text", DECLARATIONS)
def test_draws_honour_the_declaration_and_are_well_conditioned(text):
    decl = parse_decl(text)
    rng = np.random.default_rng(0)
    for trial in range(30):
        value = V.draw_value(decl, {"n": 2 + trial % 5, "m": 6 - trial % 5}, rng, trial % 3)
        assert V.honours(decl.structure, value)
        singular = {"psd", "skew"} & decl.structure and "invertible" not in decl.structure
        if decl.kind != "scalar" and not singular:      # psd: singular on purpose; skew: odd n
            assert V._well_conditioned(value)


def test_psd_is_drawn_singular_with_rank_n_minus_1_first():
    rng = np.random.default_rng(0)
    value = V.draw_value(parse_decl("psd n"), {"n": 5}, rng, trial=0)
    assert np.linalg.matrix_rank(value) == 4


def test_second_trial_reverses_the_order_of_sizes():
    assert V._reversed_order({"m": 2, "n": 5, "p": 3}) == {"m": 5, "n": 2, "p": 3}


def test_words_that_cannot_be_drawn_together_are_inconclusive(tmp_path):
    path = tmp_path / "combo.yaml"
    path.write_text("- id: skew-orthogonal\n  title: Skew orthogonal square\n"
                    "  kind: identity\n  symbols: {Q: matrix n n orthogonal skew}\n"
                    "  lhs: Q @ Q\n  rhs: -I\n  tags: [orthogonal]\n")
    result = V.check_record(load(path)[0])
    assert result.status == "inconclusive"
    assert "cannot draw a matrix n n orthogonal skew" in result.message


def test_identities_with_a_zero_side_are_compared_at_the_scale_of_their_parts(tmp_path):
    path = tmp_path / "zero.yaml"
    path.write_text("- id: trace-of-commutator\n  title: The trace of a commutator is zero\n"
                    "  kind: identity\n  symbols: {A: matrix n n, B: matrix n n}\n"
                    "  lhs: tr(A @ B - B @ A)\n  rhs: '0'\n  tags: [trace]\n"
                    "- id: skew-quadratic-form\n  title: A skew quadratic form is zero\n"
                    "  kind: identity\n  symbols: {x: vector n, S: skew n}\n"
                    "  lhs: x.T @ S @ x\n  rhs: '0'\n  tags: [quadratic-form]\n")
    for record in load(path):
        for seed in SEEDS:
            assert V.check_record(record, seed=seed).ok


def test_near_singular_inverse_is_redrawn_not_counted():
    singular = np.array([[1.0, 2.0], [2.0, 4.0 + 1e-12]])
    with pytest.raises(EvaluationError):
        evaluate(parse_expr("inv(X)"), {"X": singular}, {})


def test_unsettled_finite_differences_are_redrawn():
    x = np.array([[1e-7]])
    with pytest.raises(EvaluationError):      # |t| has a kink within the step
        V.directional_derivative(np.abs, x, np.ones((1, 1)))
    assert abs(V.directional_derivative(np.exp, x, np.ones((1, 1))) - np.exp(x)) < 1e-10
