"""The hypotheses that chapter-3 records construct hold, and the real representation of
complex matrices does what the complex records rely on.

* Each case of the rank-1 update of the pseudo-inverse (Cookbook eqs 168, 174-183)
  constructs its case condition: w, m and beta (written here from their definitions,
  eqs 169-173, not taken from the records' right sides) vanish where the case says and
  do not vanish where it says they do not -- judged by the verifier on every seed.
* The pair (A, B) of eq 184's record satisfies the hypothesis (A + B)^-1 = A^-1 + B^-1.
* pinv() inverts exactly the singular values the evaluator's conditioning check keeps
  (a singular value just above numpy's default cut-off of 1e-15 once slipped through).
* The compact-SVD factors of eq 223's record have orthonormal columns.
* block([[Ar, -Ai], [Ai, Ar]]) is multiplicative and maps the conjugate transpose to
  the transpose, the conjugate to S R S, and the pseudo-inverse to the pseudo-inverse,
  judged against numpy's complex arithmetic (an independent path).
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from matident.catalogue import catalogue, load
from matident.evaluate import EvaluationError, evaluate
from matident.parse import parse_expr
from matident.shapes import infer

V = importlib.import_module("matident.verify")
ROOT = Path(__file__).resolve().parent.parent
UPDATE = ROOT / "identities" / "pseudo-inverse-rank-one-update.yaml"
SEEDS = range(6)

BC = "B @ C"                                        # any rank
PMQ = "(I - q @ pinv(q)) @ M @ (I - p @ pinv(p))"   # rank below n and below m
MQ = "M @ (I - p @ pinv(p))"                        # rank below m
PM = "(I - q @ pinv(q)) @ M"                        # rank below n


def _c_range_beta0(a):
    return f"(-({a} @ u) / (d.T @ pinv({a}) @ {a} @ u))"


def _d_range_beta0(a):
    return f"(-({a}).T @ z / (z.T @ {a} @ pinv({a}) @ c))"


# record id -> (A, c, d, w vanishes, m vanishes, beta vanishes); None: the case leaves it open
CASES = {
    "pseudo-inverse-rank-one-update-case-1": (PMQ, "c", "d", False, False, None),
    "pseudo-inverse-rank-one-update-case-1-norms": (PMQ, "c", "d", False, False, None),
    "pseudo-inverse-rank-one-update-case-2": (MQ, _c_range_beta0(MQ), "d", True, False, True),
    "pseudo-inverse-rank-one-update-case-2-norms": (MQ, _c_range_beta0(MQ), "d", True, False, True),
    "pseudo-inverse-rank-one-update-case-3": (BC, f"({BC} @ u)", "d", True, None, False),
    "pseudo-inverse-rank-one-update-case-4": (PM, "c", _d_range_beta0(PM), False, True, True),
    "pseudo-inverse-rank-one-update-case-4-norms": (PM, "c", _d_range_beta0(PM), False, True, True),
    "pseudo-inverse-rank-one-update-case-5": (BC, "c", f"(({BC}).T @ z)", None, True, False),
    "pseudo-inverse-rank-one-update-case-6": (BC, f"(-({BC} @ u) / (z.T @ {BC} @ u))", f"(({BC}).T @ z)",
                                              True, True, True),
    "pseudo-inverse-rank-one-update-case-6-norms": (BC, f"(-({BC} @ u) / (z.T @ {BC} @ u))", f"(({BC}).T @ z)",
                                                    True, True, True),
}


def _records(path):
    return {r["id"]: r for r in yaml.safe_load(path.read_text(encoding="utf-8"))}


def _check(tmp_path, symbols, lhs, rhs, seed):
    """Verify lhs = rhs (text) for the given declarations; the verifier's status."""
    path = tmp_path / "claim.yaml"
    symbols = {k: v for k, v in symbols.items() if re.search(rf"\b{k}\b", lhs + " " + rhs)}
    path.write_text(yaml.safe_dump([{
        "id": "constructed-condition", "title": "A constructed case condition holds",
        "kind": "identity", "symbols": symbols, "lhs": lhs, "rhs": rhs, "tags": ["pseudo-inverse"],
    }], sort_keys=False), encoding="utf-8")
    record = load(path, base=tmp_path)["constructed-condition"]
    return V.check_record(record, seed=seed).status


def test_the_table_names_every_update_record():
    assert set(CASES) == set(_records(UPDATE))


@pytest.mark.parametrize("rid", sorted(CASES))
def test_rank_one_update_case_constructs_its_condition(tmp_path, rid):
    record = _records(UPDATE)[rid]
    a, c, d, w_zero, m_zero, beta_zero = CASES[rid]
    assert " ".join(record["lhs"].split()) == f"pinv({a} + {c} @ {d}.T)"
    conditions = {
        "w": (f"(I - {a} @ pinv({a})) @ {c}", w_zero),            # eq 172
        "m": (f"(I - pinv({a}) @ {a}).T @ {d}", m_zero),          # eq 173
        "beta": (f"1 + {d}.T @ pinv({a}) @ {c}", beta_zero),      # eq 169
    }
    for name, (expr, vanishes) in conditions.items():
        if vanishes is None:
            continue
        for seed in SEEDS:
            status = _check(tmp_path, record["symbols"], expr, "0", seed)
            assert status == ("passed" if vanishes else "failed"), (rid, name, seed, status)


def test_rank_one_update_records_cite_the_theorem_and_one_case_equation():
    cited = sorted(e for r in _records(UPDATE).values() for e in r["cookbook"] if e != 168)
    assert cited == list(range(174, 184))
    assert all(168 in r["cookbook"] for r in _records(UPDATE).values())


def test_inverse_of_sum_construction_satisfies_the_hypothesis(tmp_path):
    record = catalogue()["inverse-of-sum-implication"]
    lhs = " ".join(record.lhs_text.split())
    assert lhs.startswith("A @ inv(") and lhs.endswith(") @ A")
    b = lhs[len("A @ inv("):-len(") @ A")]
    symbols = dict(_records(ROOT / "identities" / "inverse-identities.yaml")[record.id]["symbols"])
    for seed in SEEDS:
        assert _check(tmp_path, symbols, f"inv(A + {b})", f"inv(A) + inv({b})", seed) == "passed"
    # and the hypothesis is not automatic: a generic B fails it
    generic = {"A": "matrix n n invertible", "B": "matrix n n invertible"}
    assert _check(tmp_path, generic, "inv(A + B)", "inv(A) + inv(B)", 0) == "failed"


def test_compact_svd_factors_have_orthonormal_columns(tmp_path):
    record = _records(ROOT / "identities" / "inverse-identities.yaml")["pseudo-inverse-from-compact-svd"]
    for factor in ("M @ inv(sqrtm(M.T @ M))", "N @ inv(sqrtm(N.T @ N))"):
        assert factor in record["lhs"] and factor in record["rhs"]
        for seed in SEEDS:
            assert _check(tmp_path, record["symbols"], f"({factor}).T @ {factor}", "I", seed) == "passed"


# -- the real representation against numpy's complex arithmetic -------------------------

def _represent(text, values):
    tree = infer(parse_expr(text), {k: f"matrix {v.shape[0]} {v.shape[1]}" for k, v in values.items()}).expr
    return evaluate(tree, values, {})


def _real(z):
    return np.block([[z.real, -z.imag], [z.imag, z.real]])


@pytest.mark.parametrize("seed", range(5))
def test_real_representation_matches_complex_arithmetic(seed):
    rng = np.random.default_rng(seed)
    n, m, p = 3, 5, 2
    a = rng.standard_normal((n, m)) + 1j * rng.standard_normal((n, m))
    b = rng.standard_normal((m, p)) + 1j * rng.standard_normal((m, p))
    values = {"Ar": a.real, "Ai": a.imag, "Br": b.real, "Bi": b.imag}
    rep_a = _represent("block([[Ar, -Ai], [Ai, Ar]])", values)
    np.testing.assert_allclose(rep_a, _real(a))
    # A^H built from its parts, as the records write it, is the transpose of R(A)
    np.testing.assert_allclose(_represent("block([[Ar.T, Ai.T], [-Ai.T, Ar.T]])", values), _real(a.conj().T))
    np.testing.assert_allclose(_real(a.conj().T), rep_a.T)
    # A* and the conjugation S R(M) S of eq 202's record
    np.testing.assert_allclose(_represent("block([[Ar, Ai], [-Ai, Ar]])", values), _real(a.conj()))
    s_n, s_m = np.diag([1.0] * n + [-1.0] * n), np.diag([1.0] * m + [-1.0] * m)
    np.testing.assert_allclose(s_m @ _real(np.linalg.pinv(a)) @ s_n, _real(np.linalg.pinv(a).conj()))
    # products, the product of eq 9's record, and pseudo-inverses
    product = _represent("block([[Ar @ Br - Ai @ Bi, -(Ar @ Bi + Ai @ Br)], [Ar @ Bi + Ai @ Br, Ar @ Br - Ai @ Bi]])",
                         values)
    np.testing.assert_allclose(product, _real(a @ b), atol=1e-12)
    np.testing.assert_allclose(_real(a) @ _real(b), _real(a @ b), atol=1e-12)
    np.testing.assert_allclose(np.linalg.pinv(_real(a)), _real(np.linalg.pinv(a)), atol=1e-10)


# -- pinv and its conditioning check agree on what counts as a zero singular value ------------

@pytest.mark.parametrize("ratio", [1.05e-15, 3e-16, 2e-15])
def test_pinv_inverts_exactly_the_singular_values_the_check_keeps(ratio):
    """A 5 x 2 matrix with singular values 1 and ``ratio``: pinv either treats the small one
    as zero (and is then the pseudo-inverse of the rank-1 truncation) or refuses."""
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((5, 2)))
    v, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    x = u @ np.diag([1.0, ratio]) @ v.T
    tree = infer(parse_expr("pinv(X)"), {"X": "matrix 5 2"}).expr
    try:
        got = evaluate(tree, {"X": x}, {})
    except EvaluationError:
        return
    truncated = np.outer(v[:, 0], u[:, 0])
    np.testing.assert_allclose(got, truncated, atol=1e-6)
