"""Finding records that state the same identity under different ids.

Two records are the same statement when they have the same kind and, under a
renaming of symbols that respects declarations (and maps ``wrt`` to ``wrt``),

* their left-hand sides agree numerically on random instances and are built
  from the same operators (so ``tr(A @ X)`` and ``tr(X @ A)`` are the same
  statement, while ``norm(x) ** 2`` and ``x.T @ x`` are two ways a user may
  ask and both stay), and
* for derivatives and differentials, their right-hand sides agree numerically;
  for identities, their right-hand sides also have the same tree shape once
  symbols are erased (different *forms* of one quantity, such as two Woodbury
  variants or ``tr((A.T @ W).T @ M)`` against ``tr((W @ B.T).T @ M)``, are
  different identities; ``tr(C @ A @ B)`` and ``tr(B @ C @ A)`` are one).

Identities are also compared with their sides swapped.
"""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

from .evaluate import EvaluationError, evaluate
from .verify import draw_direction, draw_sizes, draw_value

MAX_RENAMINGS = 720
TOL = 1e-8


def _ops(e):
    return frozenset(Counter(n.op for n in e.walk() if n.op not in ("sym", "num")).items())


def _skeleton(e):
    """The tree with symbols erased; arguments of + and * in a fixed order."""
    if e.op == "sym":
        return "s"
    if e.op == "num":
        return ("num", str(e.value))
    kids = [_skeleton(a) for a in e.args]
    if e.op in ("+", "*"):
        kids.sort(key=repr)
    return (e.op, tuple(kids))


def _decl_type(decl):
    return (decl.kind, decl.words, isinstance(decl.rows, int) and decl.rows,
            isinstance(decl.cols, int) and decl.cols)


def _signature(record):
    types = sorted(repr(_decl_type(d)) for d in record.variables.values())
    return (record.kind, record.relation, record.layout, tuple(types), len(record.wrts))


def _renamings(r1, r2):
    """Bijections of r1's symbols onto r2's that keep declaration types (and wrt)."""
    groups = {}
    for name, decl in r1.variables.items():
        groups.setdefault(_decl_type(decl), [[], []])[0].append(name)
    for name, decl in r2.variables.items():
        groups.setdefault(_decl_type(decl), [[], []])[1].append(name)
    parts = []
    for a, b in groups.values():
        if len(a) != len(b):
            return
        parts.append([list(zip(a, perm)) for perm in itertools.permutations(b)])
    for count, combo in enumerate(itertools.product(*parts)):
        if count >= MAX_RENAMINGS:
            return
        mapping = dict(pair for part in combo for pair in part)
        if all(mapping.get(w1) == w2 for w1, w2 in zip(r1.wrts, r2.wrts)):
            yield mapping


def _dim_map(r1, r2, mapping):
    dims = {}
    for s1, s2 in mapping.items():
        d1, d2 = r1.symbols[s1], r2.symbols[s2]
        for a, b in ((d1.rows, d2.rows), (d1.cols, d2.cols)):
            if isinstance(a, int) or isinstance(b, int):
                if a != b:
                    return None
            elif dims.setdefault(a, b) != b:
                return None
    return dims


def _values(e, values, sizes):
    try:
        return evaluate(e, values, sizes)
    except (EvaluationError, KeyError):
        return None


def _close(a, b):
    if a is None or b is None or a.shape != b.shape:
        return False
    scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-12)
    return bool(np.linalg.norm(a - b) <= TOL * scale)


def same_statement(r1, r2, *, draws=2, seed=0):
    """True if records ``r1`` and ``r2`` state the same identity (see module doc)."""
    if _signature(r1) != _signature(r2):
        return False
    rng = np.random.default_rng(seed)
    for mapping in _renamings(r1, r2):
        dims = _dim_map(r1, r2, mapping)
        if dims is None:
            continue
        for swapped in ((False, True) if r1.kind == "identity" else (False,)):
            l2, rr2 = (r2.rhs_expr, r2.lhs_expr) if swapped else (r2.lhs_expr, r2.rhs_expr)
            if _ops(r1.lhs_expr) != _ops(l2):
                continue
            if r1.kind == "identity" and _skeleton(r1.rhs_expr) != _skeleton(rr2):
                continue
            if all(_agree(r1, l2, rr2, mapping, dims, rng) for _ in range(draws)):
                return True
    return False


def _agree(r1, l2, rr2, mapping, dims, rng):
    for _ in range(10):
        sizes1 = draw_sizes(r1.variables, rng)
        values1 = {n: draw_value(d, sizes1, rng) for n, d in r1.variables.items()}
        for w in r1.wrts if r1.kind == "differential" else ():
            values1[f"d{w}"] = draw_direction(r1.symbols[w], values1[w].shape, rng)
        sizes2 = {dims.get(k, k): v for k, v in sizes1.items()}
        values2 = {mapping[n]: v for n, v in values1.items() if n in mapping}
        for w in r1.wrts:
            if f"d{w}" in values1:
                values2[f"d{mapping[w]}"] = values1[f"d{w}"]
        a1, a2 = _values(r1.lhs_expr, values1, sizes1), _values(l2, values2, sizes2)
        if a1 is None:
            continue
        if not _close(a1, a2):
            return False
        if r1.kind == "identity":
            return True
        return _close(_values(r1.rhs_expr, values1, sizes1), _values(rr2, values2, sizes2))
    return False


def find_duplicates(records):
    """Pairs ``(first, second)`` of records that state the same identity."""
    buckets = {}
    for r in records:
        if r.kind == "identity":
            key = frozenset((_ops(r.lhs_expr), _ops(r.rhs_expr)))
        else:
            key = _ops(r.lhs_expr)
        buckets.setdefault((_signature(r), key), []).append(r)
    pairs = []
    for group in buckets.values():
        for r1, r2 in itertools.combinations(group, 2):
            if same_statement(r1, r2):
                pairs.append((r1, r2))
    return pairs
