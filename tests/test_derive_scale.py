"""derive on long sums and products: right (checked against finite differences) and linear-ish work.

The work is counted, never timed: the size of every tree the engine hands to
shape inference (the engine re-types after each rewrite), the number of steps
and the length of their text.  A sum is split in halves, so each term is
re-typed O(log n) times, not O(n) times as when it was split head/rest.
"""
import sys

import pytest

import matident  # noqa: F401 - binds matident.derive to the function
from matident.derive import derive

ENGINE = sys.modules["matident.derive"]


def trace_sum(n):
    return " + ".join(f"tr(A{i} @ X)" for i in range(1, n + 1))


@pytest.fixture
def inferred(monkeypatch):
    """Total size of the trees the engine types while deriving."""
    work = [0]
    original = ENGINE.infer

    def counting(e, *args, **kwargs):
        work[0] += e.size()
        return original(e, *args, **kwargs)
    monkeypatch.setattr(ENGINE, "infer", counting)
    return work


def test_a_300_term_sum_is_right():
    d = derive(trace_sum(300), "X")
    assert d.text == " + ".join(f"A{i}.T" for i in range(1, 301))
    report = d.check()
    assert report.ok, str(report)


def test_the_work_on_a_sum_grows_like_n_log_n(inferred):
    work, steps, text = {}, {}, {}
    for n in (100, 300):
        inferred[0] = 0
        d = derive(trace_sum(n), "X")
        work[n], steps[n] = inferred[0], len(d.steps)
        text[n] = sum(len(s.before) + len(s.after) for s in d.steps)
    assert steps[300] == 3 * steps[100]                 # a fixed number of steps per term
    # n log n: 3 * log(300) / log(100) = 3.7; splitting head/rest (quadratic) gave 9
    assert work[300] <= 4.2 * work[100], work
    assert text[300] <= 4.2 * text[100], text


@pytest.mark.parametrize("text,wrt,expected", [
    ("tr(" + " @ ".join(["X"] * 60) + ")", "X", "60 * " + " @ ".join(["X.T"] * 59)),
    ("a.T @ " + " @ ".join(f"A{i}" for i in range(1, 59)) + " @ x", "x",
     " @ ".join(f"A{i}.T" for i in range(58, 0, -1)) + " @ a"),
    ("tr(" + " @ ".join(f"A{i}" for i in range(1, 60)) + " @ X)", "X",
     " @ ".join(f"A{i}.T" for i in range(59, 0, -1))),
])
def test_a_60_factor_product_is_right(text, wrt, expected):
    d = derive(text, wrt)
    assert d.text == expected
    report = d.check()
    assert report.ok, str(report)


def test_products_whose_every_factor_varies_are_right():
    for text, wrt in [(" * ".join(f"(a{i}.T @ x)" for i in range(12)), "x"),
                      ("a.T @ " + " @ ".join(f"(A{i} + X)" for i in range(12)) + " @ b", "X"),
                      ("sum(" + " * ".join(f"exp(A{i} @ x)" for i in range(9)) + ")", "x")]:
        d = derive(text, wrt)
        report = d.check()
        assert report.ok, (text, str(report))


def test_the_work_on_a_chain_grows_like_n_log_n(inferred):
    work = {}
    for n in (20, 60):
        inferred[0] = 0
        derive("tr(" + " @ ".join(f"A{i}" for i in range(1, n)) + " @ X)", "X")
        work[n] = inferred[0]
    assert work[60] <= 4.5 * work[20], work
