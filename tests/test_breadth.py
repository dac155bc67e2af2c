"""Issue 16: dimension relations and rank in declarations, matrix functions, unit vectors,
block matrices, expectations over Gaussians, and lookups of rewritten left-hand sides.

Judged by paths independent of the code under test: sizes are checked against the
declared relations directly, lookups against the records they must find, and every new
construct against a second evaluation (numpy/scipy-free series, explicit loops).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import matident
from matident.errors import DeclarationError
from matident.shapes import parse_decl

V = importlib.import_module("matident.verify")
WRONG = Path(__file__).parent / "fixtures" / "wrong"


# -- 1. dimension relations and rank -------------------------------------------------

@pytest.mark.parametrize("text, relations", [
    ("matrix m n tall", (("m", "n"),)),
    ("matrix m n wide full-rank", (("n", "m"),)),
    ("matrix 5 2 tall", ((5, 2),)),
    ("matrix m n full-rank", ()),
])
def test_relation_words_parse(text, relations):
    assert parse_decl(text).relations() == relations


@pytest.mark.parametrize("text, message", [
    ("matrix n n tall", "says nothing of a square matrix"),
    ("matrix n n full-rank", "says nothing of a square matrix"),
    ("matrix m n tall wide", "is both tall and wide"),
    ("matrix 2 5 tall", "is 2x5, not tall"),
    ("spd n full-rank", "does not apply"),
    ("vector n tall", "does not apply"),
    ("matrix m*n k tall", "relate plain dimensions"),
])
def test_relation_words_refused_with_a_reason(text, message):
    with pytest.raises(DeclarationError) as info:
        parse_decl(text)
    assert message in str(info.value) and "Traceback" not in str(info.value)


def test_square_matrix_is_tall_and_wide_and_invertible_is_full_rank():
    assert parse_decl("matrix n n").has("tall") and parse_decl("matrix n n").has("wide")
    assert parse_decl("matrix n n invertible").has("full-rank")
    assert not parse_decl("matrix m n").has("tall")
    assert not parse_decl("matrix m n tall").has("wide")


@pytest.mark.parametrize("decls", [
    {"X": "matrix m n tall", "Y": "matrix n k tall"},
    {"X": "matrix m n wide", "A": "matrix k m tall"},
    {"C": "matrix n r tall full-rank", "D": "matrix r m wide full-rank"},
    {"X": "matrix m 3 tall"},
])
def test_drawn_sizes_honour_the_relations_in_every_trial(decls):
    symbols = {k: parse_decl(v) for k, v in decls.items()}
    pairs = [p for d in symbols.values() for p in d.relations()]
    for seed in range(40):
        rng = np.random.default_rng(seed)
        sizes = V.draw_sizes(symbols, rng)
        reversed_ = V.honour_relations(V._reversed_order(sizes), symbols)
        for s in (sizes, reversed_):
            size = {**s}
            for big, small in pairs:
                b = size.get(big, big)
                c = size.get(small, small)
                assert b >= c, (decls, s)


def test_contradicting_relations_are_inconclusive_not_passed(write_yaml):
    path = write_yaml("""
- id: contradicting-relations
  title: Relations that contradict each other
  kind: identity
  symbols: {X: matrix m n tall full-rank, Y: matrix m n wide full-rank}
  lhs: X + Y
  rhs: Y + X
  tags: [basic]
""")
    (record,) = matident.load(path)
    result = V.check_record(record)
    assert result.status == "inconclusive"
    assert "contradict" in result.message


def _ids(matches):
    return [m.identity.id for m in matches]


def test_lookup_logdet_gram_of_a_rectangular_matrix_finds_eq_55():
    matches = matident.lookup("logdet(W.T @ W)", wrt="W", symbols={"W": "matrix m n"})
    best = matches[0]
    assert best.identity.id == "logdet-xtx-derivative" and 55 in best.identity.cookbook
    assert set(best.conditions) == {"W is tall (m >= n)", "W is full-rank"}
    # declared tall and of full rank: no condition left
    matches = matident.lookup("logdet(W.T @ W)", wrt="W", symbols={"W": "matrix m n tall full-rank"})
    assert matches[0].identity.id == "logdet-xtx-derivative" and matches[0].conditions == ()


def test_lookup_det_xtdx_of_a_rectangular_x_with_a_general_d_finds_eq_54():
    matches = matident.lookup("det(X.T @ D @ X)", wrt="X", symbols={"X": "matrix m n", "D": "matrix m m"})
    found = {m.identity.id: m for m in matches}
    assert "det-xtax-derivative" in found                      # eq 54: any D
    assert not any("symmetric" in c for c in found["det-xtax-derivative"].conditions)
    assert "X is tall (m >= n)" in found["det-xtax-derivative"].conditions
    assert "D is symmetric" in found["det-xtax-symmetric-derivative"].conditions   # eq 53


def test_lookup_logdet_ztkz_of_a_square_z_needs_no_tallness():
    matches = matident.lookup("logdet(Z.T @ K @ Z)", wrt="Z", symbols={"Z": "matrix n n", "K": "spd n"})
    assert matches
    for m in matches:
        assert not any("tall" in c or "wide" in c for c in m.conditions), m
    best = {m.identity.id: m for m in matches}["logdet-xtax-spd-derivative"]
    assert best.conditions == ("Z is full-rank",)


def test_verifier_rejects_an_identity_that_needs_tallness_declared_wide():
    wrong = matident.load(WRONG / "breadth.yaml", base=WRONG)
    result = V.check_record(wrong["wrong-pinv-left-inverse-of-wide"])
    assert result.status == "failed"
