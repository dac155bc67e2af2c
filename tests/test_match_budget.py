"""Lookup's work is counted, not timed: determinism under a budget, sums linear in their terms.

No test here measures seconds: the cost of a lookup is :attr:`Lookup.steps`,
the same on every machine, and the growth of a sum's cost is judged by it.
"""
import itertools
import json
import os
import subprocess
import sys

import pytest

from matident.errors import UsageError
from matident.match import BUDGET, Budget, BudgetExhausted, lookup, _splits

from conftest import ROOT


def trace_sum(n):
    return " + ".join(f"tr(A{i} @ X)" for i in range(1, n + 1))


def outcome(found):
    """Everything a lookup says, as text (the CLI's words for each match included)."""
    return ([(str(m), m.identity.id, m.binding_text(), m.conditions) for m in found],
            found.complete, found.steps)


QUERIES = [(trace_sum(8), "X"), (trace_sum(8), None), ("inv(A + U @ C @ V)", None),
           ("tr(A @ X @ B) + logdet(X) + x.T @ X @ y", "X"), ("A1 @ A2 @ A3 @ A4 @ A5 @ A6", None)]


@pytest.mark.parametrize("text,wrt", QUERIES)
def test_the_same_lookup_gives_the_same_answer(text, wrt):
    first = outcome(lookup(text, wrt))
    assert first[1], "the default budget should finish these"
    for _ in range(2):
        assert outcome(lookup(text, wrt)) == first


@pytest.mark.parametrize("text,wrt", QUERIES)
def test_a_tiny_budget_stops_at_the_same_place_every_time(text, wrt):
    whole = lookup(text, wrt)
    for budget in (1, 7, whole.steps // 3, whole.steps - 1):
        runs = [lookup(text, wrt, budget=budget) for _ in range(3)]
        assert all(outcome(r) == outcome(runs[0]) for r in runs)
        assert not runs[0].complete and runs[0].steps == budget
        assert "stopped after" in str(runs[0])
        # what it found is what the whole search finds first (the cut is not a different answer)
        assert {m.identity.id for m in runs[0]} <= {m.identity.id for m in whole}
    exact = lookup(text, wrt, budget=whole.steps)      # spending the last step is allowed
    assert exact.complete and outcome(exact) == outcome(whole)


@pytest.mark.parametrize("text,wrt", [("tr(A @ X @ B @ X)", "X"), ("kron(Z, Z @ B)", "Z"),
                                      ("b.T @ X.T @ X @ c", "X")])
def test_what_the_index_remembers_changes_no_count(text, wrt):
    """The index keeps the differentials product rules chain, with the steps they cost: a lookup
    with that table empty, full, or filled by other queries counts the same steps, finds the
    same matches and stops at the same place under every budget."""
    from matident.catalogue import catalogue
    from matident.index import Index
    index = Index(list(catalogue()))
    whole = lookup(text, wrt, catalogue=index)
    assert whole.complete and index._differentials, "these queries chain differentials"
    for budget in sorted({1, 9, whole.steps // 4, whole.steps // 2, whole.steps - 1, whole.steps}):
        index._differentials.clear()
        cold = outcome(lookup(text, wrt, catalogue=index, budget=budget))
        warm = outcome(lookup(text, wrt, catalogue=index, budget=budget))
        for other, w in (("tr(X.T @ X)", "X"), ("x.T @ A @ x", "x"), ("tr(Z @ B @ Z.T)", "Z")):
            lookup(other, w, catalogue=index)
        assert cold == warm == outcome(lookup(text, wrt, catalogue=index, budget=budget))
        assert cold[2] == budget and cold[1] == (budget == whole.steps)


def test_the_budget_is_not_the_clock_in_another_process():
    """Another process (another hash seed, so other set orders) counts the same steps and
    finds the same matches, in the same order, under a budget that cuts the search."""
    code = ("import json, sys; from matident.match import lookup\n"
            "r = lookup(sys.argv[1], 'X', budget=int(sys.argv[2]))\n"
            "print(json.dumps([[str(m) for m in r], r.complete, r.steps]))")
    text = trace_sum(12)
    budget = lookup(text, "X").steps // 2
    outs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", code, text, str(budget)], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        outs.append(json.loads(proc.stdout))
    here = lookup(text, "X", budget=budget)
    assert outs[0] == outs[1] == outs[2] == [[str(m) for m in here], here.complete, here.steps]
    assert not here.complete and here


def test_a_sixteen_term_sum_returns_each_terms_identities():
    found = lookup(trace_sum(16), "X")
    assert found.complete
    for i in range(1, 17):
        mine = [m for m in found if str(m.target_tree) == f"tr(A{i} @ X)"]
        ids = {m.identity.id for m in mine}
        assert "trace-xa-derivative" in ids, (i, ids)
        m = next(m for m in mine if m.identity.id == "trace-xa-derivative")
        assert str(m.result_tree) == f"A{i}.T"


@pytest.mark.parametrize("wrt", ["X", None])
def test_the_cost_of_a_sum_grows_linearly_with_its_terms(wrt):
    steps = {n: lookup(trace_sum(n), wrt).steps for n in (8, 16, 32)}
    counts = {n: sum(not m.whole for m in lookup(trace_sum(n), wrt)) for n in (8, 16, 32)}
    assert counts[16] == 2 * counts[8] and counts[32] == 2 * counts[16]   # the same per term
    assert steps[16] <= 2.5 * steps[8] and steps[32] <= 2.5 * steps[16], steps
    assert steps[32] < BUDGET // 10


def test_a_split_of_many_terms_between_wildcards_is_polynomial():
    for w, n in itertools.product((2, 3), range(0, 7)):
        budget = Budget(10 ** 6)
        ctx = type("Ctx", (), {"tick": lambda self: budget.spend()})()
        for ratio in (False, True):
            got = _splits(ctx, w, n, ratio)
            assert len(got) == len(set(got)) and got == sorted(got, key=lambda s: (s[0], s[1] or -1))
            every = [(a, g) for a in itertools.product(range(w), repeat=n)
                     for g in (range(w) if ratio else (None,))
                     if all(k in a or k == g for k in range(w))]
            assert set(got) <= set(every)
            if n <= (w if ratio else w + 1):
                assert set(got) == set(every)          # nothing lost for few terms
            # each wildcard but one takes one item (or the ratio alone)
            for a, g in got:
                assert sum(1 for k in range(w) if a.count(k) > 1) <= 1
    budget = Budget(10 ** 6)
    ctx = type("Ctx", (), {"tick": lambda self: budget.spend()})()
    assert len(_splits(ctx, 2, 40, True)) <= 4 * 41          # not 2 ** 40


def test_budget_arguments():
    with pytest.raises(UsageError):
        lookup("tr(X)", "X", budget=0)
    with pytest.raises(UsageError):
        Budget(2.5)
    b = Budget(2)
    b.spend()
    b.spend()
    with pytest.raises(BudgetExhausted):
        b.spend()
    assert b.used == 2
    assert lookup(trace_sum(4), "X", budget=None).complete


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "matident", "lookup", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_cli_says_when_the_budget_ran_out():
    out = run_cli(trace_sum(10), "--wrt", "X", "--budget", "3")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "no match found before the work budget ran out" in out.stdout
    assert "stopped after 3 matching steps" in out.stdout
    assert "no matching identity" not in out.stdout
    out = run_cli(trace_sum(10), "--wrt", "X", "--json", "--budget", "3")
    data = json.loads(out.stdout)
    assert out.returncode == 3 and data["complete"] is False and data["steps"] == 3
    out = run_cli(trace_sum(10), "--wrt", "X")
    complete = len(lookup(trace_sum(10), "X"))          # the API's complete answer, as counted there
    assert out.returncode == 0 and "stopped after" not in out.stdout
    assert f"{complete} matches" in out.stdout and complete >= 110
    out = run_cli("tr(X)", "--wrt", "X", "--budget", "0")
    assert out.returncode == 2 and "--budget" in out.stderr and "Traceback" not in out.stderr
