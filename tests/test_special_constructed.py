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
