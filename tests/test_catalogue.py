"""The shipped catalogue: it loads, every record verifies, errata fail, no duplicates."""
import pytest

import matident
from matident.parse import parse_expr
from matident.redundancy import find_duplicates
from matident.shapes import infer
from matident.verify import check_record

CATALOGUE = matident.catalogue()
RECORDS = list(CATALOGUE)


def test_catalogue_is_loaded_once_and_indexed():
    assert matident.catalogue() is CATALOGUE
    assert len(CATALOGUE) == len({r.id for r in RECORDS})
    first = RECORDS[0]
    assert CATALOGUE[first.id] is first
    assert first.file.endswith(".yaml") and first.line >= 1


def test_filters():
    derivatives = CATALOGUE.filter(kind="differential")
    assert len(derivatives) > 0
    assert all(r.kind == "differential" for r in derivatives)
    tag = RECORDS[0].tags[0]
    assert all(tag in r.tags for r in CATALOGUE.filter(tag=tag))


def test_unknown_id_suggests_close_ids():
    rid = RECORDS[0].id
    with pytest.raises(KeyError, match="did you mean"):
        CATALOGUE[rid + "x"]


@pytest.mark.parametrize("record", RECORDS, ids=[r.id for r in RECORDS])
def test_record_verifies(record):
    result = check_record(record, trials=3, seed=0)
    assert result.status == "passed", result.describe()


ERRATA = [r for r in RECORDS if r.erratum]


@pytest.mark.parametrize("record", ERRATA, ids=[r.id for r in ERRATA])
def test_printed_form_of_erratum_fails(record):
    """What the source prints is false: the verifier must reject it."""
    printed = infer(parse_expr(record.erratum["printed"]), record.symbols).expr
    result = check_record(record, trials=3, seed=0, rhs=printed)
    assert result.status == "failed", (
        f"{record.id}: the printed form {record.erratum['printed']!r} passes verification; "
        "it is not an erratum")


def test_no_two_records_state_the_same_identity():
    pairs = find_duplicates(RECORDS)
    assert not pairs, "\n".join(f"{a.id} ({a.location}) = {b.id} ({b.location})" for a, b in pairs)
