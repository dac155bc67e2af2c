"""Constructed special matrices (identities/special-matrices-constructed.yaml, and the DFT matrix
of identities/dft-matrix-real-representation.yaml): the verifier rejects wrong versions of each
new kind of statement, and the printed shapes of Cookbook eqs
453 and 455 (J^ij n x m) are refused by the shape check."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from matident.catalogue import catalogue, load
from matident.errors import ShapeError
from matident.parse import parse_expr
from matident.shapes import infer

V = importlib.import_module("matident.verify")     # the module (matident.verify is the function)
WRONG = Path(__file__).parent / "fixtures" / "wrong-constructed"
RECORDS = load(WRONG, base=WRONG)


@pytest.mark.parametrize("rid", [r.id for r in RECORDS])
def test_wrong_constructed_statement_fails_on_every_seed(rid):
    record = RECORDS[rid]
    for seed in range(5):
        result = V.check_record(record, seed=seed)
        assert result.status == "failed", result.describe()
        assert result.error > 10 * V.IDENTITY_TOL


@pytest.mark.parametrize("rid", ["trace-with-repeated-single-entry-matrix",
                                 "quadratic-form-with-repeated-single-entry-matrix"])
def test_printed_rectangular_single_entry_product_is_a_shape_error(rid):
    """The book keeps J^ij n x m (eqs 451, 454) in eqs 453 and 455: J^ij J^ij is then undefined."""
    record = catalogue()[rid]
    symbols = {name: str(decl) for name, decl in record.symbols.items()}
    symbols.update({"ei": "vector n unit", "ej": "vector m unit"})       # J^ij = e_i e_j^T, n x m
    with pytest.raises(ShapeError):
        infer(parse_expr(record.lhs_text), symbols)
    assert V.check_record(record).status == "passed"                    # the square form holds


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_dft_construction_is_numpys_dft_matrix(n):
    """The records' R(W_N^*) = [[C, -S], [S, C]] against numpy's FFT of the identity (an independent
    path): W_N W_N^* = N I alone would not see an index vector off by one (1..N instead of 0..N-1)."""
    import numpy as np
    from matident.evaluate import evaluate
    record = catalogue()["dft-matrix-conjugate-is-conjugate-transpose-real-representation"]
    lhs = infer(parse_expr(record.lhs_text), record.symbols).expr
    y = np.random.default_rng(n).normal(size=(n, 1))
    got = evaluate(lhs, {"y": y}, {"n": n})
    w = np.fft.fft(np.eye(n + 1))                       # W_N[k, j] = exp(-2 pi i k j / N), N = n + 1
    conj = w.conj()
    expected = np.block([[conj.real, -conj.imag], [conj.imag, conj.real]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dim", ["n", "nr", "3"])
def test_an_identity_of_a_block_size_binds_under_another_dimension_name(dim):
    """inv(I - L) with L = block([[0 * y.T, 0], [eye(y), 0 * y]]): the identity is (n + 1) x (n + 1).
    The matcher compared that size literally, so a query with y of length nr (or 3) missed it."""
    import matident
    rid = "dft-matrix-times-conjugate-real-representation"
    record = catalogue()[rid]
    found = [m.identity.id for m in matident.lookup(record.lhs_text, symbols={"y": f"vector {dim}"})]
    assert found[0] == rid
