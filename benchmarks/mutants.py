"""Mutation testing of the verifier over the whole catalogue.

For every record, mutants of the rhs are made on the term tree:

* ``add-T`` / ``drop-T``   a transpose added to a non-scalar subterm, or removed
* ``negate``               the rhs or one term of a sum negated
* ``swap``                 two neighbouring factors of a matrix product (or of kron) swapped
* ``drop-term`` / ``dup-term``  one term of a sum dropped or duplicated
* ``inv->T``               an inverse replaced by a transpose
* ``scale``                a number doubled, or the whole rhs doubled

A mutant that does not type-check is not counted.  A mutant numerically equal
to the rhs on many random draws (transposing a symmetric matrix, swapping
commuting factors) is *equivalent*: it is listed and not counted.  Every other
mutant must be rejected by the verifier (``check_record`` with the rhs
replaced, default trials, ``--seed``); the kill rate is reported, and every
surviving mutant is listed (a survivor is a finding against the verifier).
Inconclusive mutants (never evaluable) count as rejected and are listed.

    python benchmarks/mutants.py [--jobs 2] [--seed 0] [--draws 20] [--json OUT] [--show-equivalent]
                                 [FILE ...]
"""
from __future__ import annotations

import argparse
import collections
import importlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from matident import expr as E
from matident.errors import MatidentError
from matident.evaluate import EvaluationError, evaluate
from matident.printing import to_text
from matident.shapes import Prod, infer, is_scalar_shape, shape_of

sys.path.insert(0, str(Path(__file__).parent))
from seeds import load_records  # noqa: E402

V = importlib.import_module("matident.verify")
EQUIVALENT_TOL = 1e-9


# -- mutation operators ----------------------------------------------------------

def _sites(tree, path=()):
    yield path, tree
    for i, child in enumerate(tree.args):
        yield from _sites(child, path + (i,))


def _replace(tree, path, new):
    if not path:
        return new
    args = list(tree.args)
    args[path[0]] = _replace(args[path[0]], path[1:], new)
    return E.rebuild(tree, args)


def mutants(rhs, symbols):
    """(operator, mutated tree) pairs for the typed rhs tree."""
    out = [("negate", E.neg(rhs)), ("scale", E.mul(E.num(2), rhs))]
    for path, node in _sites(rhs):
        def put(op, new, path=path):
            out.append((op, _replace(rhs, path, new)))
        if node.op == E.TRANSPOSE:
            put("drop-T", node.args[0])
        elif node.op not in (E.NUM, E.IDENT) and not is_scalar_shape(shape_of(node, symbols)):
            put("add-T", E.transpose(node))
        if node.op == E.ADD:
            for i, term in enumerate(node.args):
                put("negate", E.add(*node.args[:i], E.neg(term), *node.args[i + 1:]))
                put("drop-term", E.add(*node.args[:i], *node.args[i + 1:]))
                put("dup-term", E.add(*node.args, term))
        if node.op == E.MATMUL:
            for i in range(len(node.args) - 1):
                args = list(node.args)
                args[i], args[i + 1] = args[i + 1], args[i]
                put("swap", E.matmul(*args))
        if node.op == "kron":
            put("swap", E.call("kron", node.args[1], node.args[0]))
        if node.op == "inv":
            put("inv->T", E.transpose(node.args[0]))
        if node.op == E.NUM and node.value != 0:
            put("scale", E.num(node.value * 2))
    return out


# -- equivalence and verification ---------------------------------------------------

def _instances(record, count, seed):
    """Random instances (values with the differentials) as the verifier draws them."""
    rng = np.random.default_rng([seed, 7919])
    variables = record.variables
    made = 0
    for attempt in range(count * 5):
        sizes = V.draw_sizes(variables, rng)
        try:
            values = {n: V.draw_value(d, sizes, rng, attempt % 3) for n, d in variables.items()}
        except EvaluationError:
            continue
        for w in record.wrts if record.kind == "differential" else ():
            values[f"d{w}"] = V.draw_direction(record.symbols[w], values[w].shape, rng)
        yield values, sizes
        made += 1
        if made == count:
            return


def equivalent(record, a, b, draws):
    """True if trees a and b agree on ``draws`` random instances (None: never evaluable)."""
    seen = 0
    for values, sizes in _instances(record, draws, seed=1):
        try:
            x, y = evaluate(a, values, sizes), evaluate(b, values, sizes)
        except EvaluationError:
            continue
        seen += 1
        if x.shape != y.shape or V.relative_error(x, y) > EQUIVALENT_TOL:
            return False
    return True if seen else None


def _typed(tree, record, shape):
    """The mutant typed like the rhs, or None if it does not type-check (or sizes an I freely)."""
    try:
        typed = infer(tree, record.symbols, shape=shape).expr
    except MatidentError:
        return None
    dims = set(V._dim_names(record.symbols))
    for node in typed.walk():
        if node.op == E.IDENT:
            factors = node.value.factors if isinstance(node.value, Prod) else (node.value,)
            if any(isinstance(f, str) and f not in dims for f in factors):
                return None
    return typed


def check(record, draws, seed):
    """Outcomes of all mutants of one record."""
    shape = shape_of(record.rhs_expr, record.symbols)
    seen, rows = set(), []
    for op, tree in mutants(record.rhs_expr, record.symbols):
        typed = _typed(tree, record, shape)
        if typed is None or shape_of(typed, record.symbols) != shape:
            rows.append((op, to_text(tree), "ill-typed", None))
            continue
        if typed in seen or typed == record.rhs_expr:
            continue
        seen.add(typed)
        same = equivalent(record, record.rhs_expr, typed, draws)
        if same:
            rows.append((op, to_text(typed), "equivalent", None))
            continue
        result = V.check_record(record, rhs=typed, seed=seed)
        outcome = "survived" if result.ok else "killed" if result.status == "failed" else "inconclusive"
        rows.append((op, to_text(typed), outcome, result.error))
    return record.id, record.rhs_text, rows


_RECORDS = {}


def _init(files):
    _RECORDS.update((r.id, r) for r in load_records(files)[0])


def _check_id(args):
    rid, draws, seed = args
    return check(_RECORDS[rid], draws, seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--draws", type=int, default=20, help="draws of the equivalence test")
    parser.add_argument("--seed", type=int, default=0, help="seed of the verifier")
    parser.add_argument("--json", help="write every mutant and its outcome to this file")
    parser.add_argument("--show-equivalent", action="store_true", help="list the equivalent mutants")
    args = parser.parse_args(argv)

    records, problems = load_records(args.files)
    for err in problems:
        print(f"not loaded: {err}")
    baseline = [r.id for r in records if V.check_record(r, seed=args.seed).ok]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(args.files,)) as pool:
        results = list(pool.map(_check_id, [(rid, args.draws, args.seed) for rid in baseline],
                                chunksize=8))
    elapsed = time.perf_counter() - start

    table = collections.defaultdict(collections.Counter)
    listed = collections.defaultdict(list)
    for rid, rhs, rows in results:
        for op, text, outcome, error in rows:
            table[op][outcome] += 1
            if outcome in ("survived", "equivalent", "inconclusive"):
                listed[outcome].append((rid, op, rhs, text, error))
    total = collections.Counter()
    for counts in table.values():
        total.update(counts)

    print(f"{len(baseline)} records that pass (of {len(records)} loaded), mutants checked in {elapsed:.1f} s")
    print(f"{'operator':<11}{'mutants':>8}{'ill-typed':>10}{'equivalent':>11}{'killed':>8}"
          f"{'inconcl.':>9}{'survived':>9}")
    for op in sorted(table) + ["total"]:
        c = total if op == "total" else table[op]
        print(f"{op:<11}{sum(c.values()):>8}{c['ill-typed']:>10}{c['equivalent']:>11}{c['killed']:>8}"
              f"{c['inconclusive']:>9}{c['survived']:>9}")
    counted = total["killed"] + total["inconclusive"] + total["survived"]
    rate = (total["killed"] + total["inconclusive"]) / counted if counted else 1.0
    print(f"kill rate: {total['killed'] + total['inconclusive']}/{counted} non-equivalent mutants "
          f"rejected = {100 * rate:.2f} % ({total['inconclusive']} of them inconclusive)")
    for rid, op, rhs, text, error in listed["survived"]:
        print(f"SURVIVED {rid} [{op}]: {rhs}  ->  {text}  (worst relative error {error:.1e})")
    for rid, op, rhs, text, _ in listed["inconclusive"]:
        print(f"inconclusive {rid} [{op}]: {text}")
    if args.show_equivalent:
        for rid, op, rhs, text, _ in listed["equivalent"]:
            print(f"equivalent {rid} [{op}]: {rhs}  ==  {text}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"records": len(baseline), "kill_rate": rate, "totals": dict(total),
             "by_operator": {op: dict(c) for op, c in table.items()},
             "mutants": {rid: rows for rid, _, rows in results}}, indent=1, sort_keys=True))
    return 0 if rate >= 0.99 and not listed["survived"] else 1


if __name__ == "__main__":
    sys.exit(main())
