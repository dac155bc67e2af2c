"""derive on long sums and products: right (checked against finite differences) and linear-ish work.

The work is counted, never timed: the size of every tree the engine hands to
shape inference (the engine re-types after each rewrite), the number of steps
and the length of their text.  A sum is split in halves, so each term is
re-typed O(log n) times, not O(n) times as when it was split head/rest.
"""
import importlib

import pytest

import matident  # noqa: F401 - binds matident.derive to the function
from matident.derive import derive

ENGINE = importlib.import_module("matident.derive")     # the module, not the function


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


def scalar_product(n):
    return " * ".join(f"(a{i}.T @ x)" for i in range(1, n + 1))


def test_a_product_of_60_varying_scalars_is_typed_about_once_per_result_node(inferred):
    # the gradient is a sum of 60 products of 59 factors: its size is what the work is weighed by.
    # A step moving a scalar across the inner product builds from typed operands with * and @:
    # it is simplified, not re-typed (re-typing every step handed 5x the result's size to infer)
    d = derive(scalar_product(60), "x", check=False)
    assert len(d.result_expr.args) == 60
    assert inferred[0] <= 3 * d.result_expr.size(), (inferred[0], d.result_expr.size())
    report = d.check()
    assert report.ok, str(report)


def test_steps_are_printed_when_read_and_once(monkeypatch):
    printed = []
    original = ENGINE.to_latex

    def counting(e, *args, **kwargs):
        printed.append(e)
        return original(e, *args, **kwargs)
    monkeypatch.setattr(ENGINE, "to_latex", counting)
    d = derive(scalar_product(30), "x", check=False)
    assert printed == []                      # hundreds of steps, none printed yet
    first = d.latex()
    assert printed and d.steps[-1].latex_after in first
    count = len(printed)
    assert d.latex() == first
    assert len(printed) == count + 2          # only the last line (expression, result) is printed again


def test_lazy_steps_read_like_eager_ones():
    d = derive(scalar_product(4), "x")
    step = d.steps[0]
    assert step.before == "d(a1.T @ x)" and step.after == "a1.T @ dx"
    assert step.latex_before.startswith(r"\mathrm{d}\left(") and step == d.steps[0]
    assert str(step) == f"{step.before}  =  {step.after}    [{step.rule}: {step.description}]"
