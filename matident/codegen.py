"""Gradient code: a derivation written out as a self-contained Python module.

:meth:`matident.derive.Derivation.code` (and ``matident derive ... --emit``)
returns the source of a module for numpy, JAX or PyTorch that defines
``value_and_grad(**symbols)``, returning ``(value, derivative)`` (for
``order=2``: ``(value, gradient, hessian)``) in matident's layouts.

What the module does:

* checks every argument's shape against the declarations (named dimensions
  must agree across arguments; vectors may be ``(n,)`` or ``(n, 1)``, and a
  gradient comes back in the shape its variable was given);
* computes every sub-expression that occurs more than once a single time
  (common subexpressions become temporaries ``t1, t2, ...``);
* uses numerically sound forms: ``solve(M, B)`` for ``inv(M) @ B`` and
  ``solve(M.T, A.T).T`` for ``A @ inv(M)`` (unless ``inv(M)`` itself is shared),
  ``slogdet`` for ``logdet``;
* works on 2-D arrays throughout, scalars as 1x1 (the value of a scalar
  expression is returned as a 0-d array); JAX runs in float64
  (``jax_enable_x64``), PyTorch in ``torch.float64``.
"""
from __future__ import annotations

from collections import Counter
from fractions import Fraction

from . import expr as E
from .errors import UsageError
from .printing import to_text
from .shapes import Prod

BACKENDS = ("numpy", "jax", "torch")

_HEAD = {
    "numpy": ("import numpy as np\n", "np", "np.linalg"),
    "jax": ("import jax\nimport jax.numpy as jnp\n\n"
            "jax.config.update(\"jax_enable_x64\", True)   # float64, as the derivation is checked in\n",
            "jnp", "jnp.linalg"),
    "torch": ("import torch\n", "torch", "torch.linalg"),
}

_ASARRAY = {"numpy": "np.asarray({0}, dtype=float)",
            "jax": "jnp.asarray({0}, dtype=jnp.float64)",
            "torch": "torch.as_tensor({0}, dtype=torch.float64)"}

# helper functions a module includes when it uses them; {m} is the array module, {la} its linalg
_HELPERS = {
    "logdet": ("def _logdet(a):\n"
               "    sign, value = {la}.slogdet(a)\n"
               "    return {m}.where(sign > 0, value, {nan}).reshape(1, 1)\n"),
    "commutation": ("def _commutation(r, c):\n"
                    "    # K with K @ vec(M) = vec(M.T) for an r x c matrix M (column-stacking vec)\n"
                    "    k = {m}.zeros((r * c, r * c){dtype})\n"
                    "    for i in range(r):\n"
                    "        for j in range(c):\n"
                    "            {set_one}\n"
                    "    return k\n"),
    "toeplitz": ("def _toeplitz(a, mean):\n"
                 "    # each diagonal of the square a replaced by its mean (or its sum)\n"
                 "    n = a.shape[0]\n"
                 "    out = 0 * a\n"
                 "    for k in range(1 - n, n):\n"
                 "        d = {m}.diagonal(a, k)\n"
                 "        v = {m}.sum(d) / (n - abs(k)) if mean else {m}.sum(d)\n"
                 "        out = out + v * {m}.diag({m}.ones_like(d), k)\n"
                 "    return out\n"),
}

_SET_ONE = {"numpy": "k[i * c + j, j * r + i] = 1.0",
            "jax": "k = k.at[i * c + j, j * r + i].set(1.0)",     # jax arrays are immutable
            "torch": "k[i * c + j, j * r + i] = 1.0"}


def generate(derivation, backend="numpy"):
    """The source of a module computing ``derivation``'s value and derivative(s)."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}", hint="choose one of: " + ", ".join(BACKENDS))
    return _Module(derivation, backend).source()


class _Module:
    def __init__(self, derivation, backend):
        self.d = derivation
        self.backend = backend
        self.m = _HEAD[backend][1]
        self.la = _HEAD[backend][2]
        self.alias = ""
        names = set(derivation.expr.symbols()) | set(derivation.result_expr.symbols())
        if self.m in names:
            # a symbol named like the array module would shadow it inside value_and_grad
            self.alias = f"_{self.m} = {self.m}\n"
            self.m, self.la = f"_{self.m}", f"_{self.la}"
        self.lines = []
        self.helpers = set()
        self.names = {}          # shared sub-expression -> temporary name
        self.shared = set()
        self.solves = {}         # solve code -> temporary name

    # -- the module --------------------------------------------------------------
    def source(self):
        d = self.d
        outputs = [d.expr, d.result_expr] if d.order == 1 else [d.expr, d.gradient_expr, d.result_expr]
        inputs = sorted({n for o in outputs for n in o.symbols()} - {f"d{d.wrt}"})
        counts = Counter()
        for o in outputs:
            _count(o, counts)
        in_chains = Counter()
        for o in outputs:
            _count_chain_inverses(o, in_chains, set())
        # an inverse used only inside products is solved at each use, never formed
        self.shared = {e for e, k in counts.items()
                       if k > 1 and e.args and not (e.op == E.TRANSPOSE and not e.args[0].args)
                       and not (e.op == "inv" and in_chains[e] >= k)}
        body = []
        for name in inputs:
            decl = d.symbols[name]
            if name == d.wrt:
                body.append(f"    _shape = {_shape_of_arg(name)}")
            body.append(f"    {name} = _arg({name!r}, {name}, {_dim_text(decl.rows)!r}, "
                        f"{_dim_text(decl.cols)!r}, _dims)")
        for name in inputs:
            for dim in (d.symbols[name].rows, d.symbols[name].cols):
                if isinstance(dim, Prod):
                    body.append(f"    _product({name!r}, {name}, {[_dim_text(f) for f in dim.factors]!r}, _dims)")
        codes = [self.emit(o) for o in outputs]
        body.extend("    " + line for line in self.lines)
        scalar_value = _is_scalar(d.expr, d.symbols)
        out = [f"{codes[0]}[0, 0]" if scalar_value else codes[0]]
        for code, e in zip(codes[1:], outputs[1:]):
            if e is d.gradient_expr or (d.order == 1 and d.what == "gradient"):
                out.append(f"_like({code}, _shape)")
            else:
                out.append(code)
        body.append("    return " + ", ".join(out))
        signature = ", ".join(inputs)
        names = ("value, gradient, hessian" if d.order == 2 else f"value, {d.what}")
        doc = (f'    """({names}) of {to_text(d.expr)} with respect to {d.wrt}.\n\n'
               + "".join(f"    {n}: {d.symbols[n]}\n" for n in inputs)
               + f'\n    {d.what}: {to_text(d.result_expr)}\n    """\n')
        parts = [f'"""value_and_grad for {to_text(d.expr)} with respect to {d.wrt}: generated by matident '
                 f"from its\nverified derivation ({d.what}: {to_text(d.result_expr)}).\n\nBackend: "
                 f'{self.backend}.  Arrays are 2-D; scalars 1x1, vectors (n, 1) or (n,).\n"""\n',
                 _HEAD[self.backend][0], self.alias, "\n", self._support(), "\n"]
        for h in sorted(self.helpers):
            parts.append("\n" + _HELPERS[h].format(m=self.m, la=self.la, nan=self._nan(),
                                                   dtype=self._dtype(), set_one=_SET_ONE[self.backend]))
        parts.append(f"\n\ndef value_and_grad(*, {signature}):\n" + doc + "    _dims = {}\n"
                     + "\n".join(body) + "\n")
        return "".join(parts)

    def _nan(self):
        return {"numpy": "np.nan", "jax": "jnp.nan", "torch": "torch.full_like(value, float('nan'))"}[
            self.backend]

    def _dtype(self):
        return {"numpy": "", "jax": f", dtype={self.m}.float64", "torch": f", dtype={self.m}.float64"}[self.backend]

    def _support(self):
        conv = _ASARRAY[self.backend].format("a")
        out = [
            "def _arg(name, a, rows, cols, dims):",
            "    # a 2-D array of the declared shape; named dimensions must agree across arguments",
            f"    a = {conv}",
            "    if a.ndim == 0 or (a.ndim == 1 and cols == '1'):",
            "        a = a.reshape(-1, 1)",
            "    if a.ndim != 2:",
            "        raise ValueError(f\"{name} must be a {rows} x {cols} array, got shape {tuple(a.shape)}\")",
            "    for dim, size in ((rows, a.shape[0]), (cols, a.shape[1])):",
            "        if '*' in dim:",
            "            continue",
            "        if dim.isdigit():",
            "            if int(dim) != size:",
            "                raise ValueError(f\"{name} must be {rows} x {cols}, got shape {tuple(a.shape)}\")",
            "        elif dims.setdefault(dim, size) != size:",
            "            raise ValueError(f\"{name} is {tuple(a.shape)} but {dim} = {dims[dim]} from an earlier \"",
            "                             f\"argument (declared {rows} x {cols})\")",
            "    return a",
            "",
            "",
            "def _product(name, a, factors, dims):",
            "    size = 1",
            "    for f in factors:",
            "        size *= int(f) if f.isdigit() else dims[f]",
            "    if size not in a.shape:",
            "        raise ValueError(f\"{name} has shape {tuple(a.shape)}, which does not fit \" + '*'.join(factors))",
            "",
            "",
            "def _like(g, shape):",
            "    # a gradient in the shape its variable was given: (n,) for a vector passed as (n,)",
            "    return g.reshape(shape) if len(shape) == 1 else g",
            "",
        ]
        return "\n".join(out)

    # -- expressions -----------------------------------------------------------------
    def emit(self, e):
        """Code for ``e``; a shared sub-expression is computed once into a temporary."""
        if e in self.names:
            return self.names[e]
        code = self._build(e)
        if e in self.shared:
            name = f"_t{len(self.names) + 1}"
            self.lines.append(f"{name} = {code}")
            self.names[e] = name
            return name
        return code

    def _build(self, e):
        m, la, op = self.m, self.la, e.op
        if op == E.SYM:
            return e.value
        if op == E.NUM:
            return self._number(e.value)
        if op == E.IDENT:
            return f"{m}.eye({self._size(e.value)}{self._dtype()})"
        if op == E.MATMUL:
            return self._chain(list(e.args))
        if op == E.MUL:
            return "(" + " * ".join(self.emit(a) for a in e.args) + ")"
        if op == E.ADD:
            return "(" + " + ".join(self.emit(a) for a in e.args) + ")"
        if op == E.POW:
            return f"({self.emit(e.args[0])} ** {self.emit(e.args[1])})"
        if op == E.TRANSPOSE:
            return f"{self.emit(e.args[0])}.T"
        if op == "pi":                     # a 0-d array: torch's cos() takes no Python float
            return f"{m}.pi" if self.backend == "numpy" else f"{m}.asarray({m}.pi{self._dtype()})"
        a = [self.emit(x) for x in e.args]
        simple = {"log": "log", "exp": "exp", "sqrt": "sqrt", "tanh": "tanh", "abs": "abs", "cos": "cos", "sin": "sin"}
        if op in simple:
            return f"{m}.{simple[op]}({a[0]})"
        if op == "tr":
            return f"{m}.trace({a[0]}).reshape(1, 1)"
        if op == "det":
            return f"{la}.det({a[0]}).reshape(1, 1)"
        if op == "logdet":
            self.helpers.add("logdet")
            return f"_logdet({a[0]})"
        if op == "inv":
            return f"{la}.inv({a[0]})"
        if op == "adj":
            return f"({la}.det({a[0]}) * {la}.inv({a[0]}))"
        if op == "pinv":
            return f"{la}.pinv({a[0]})"
        if op == "matpow":
            k = e.args[1]
            power = str(int(k.value)) if k.op == E.NUM and float(k.value).is_integer() else f"int({a[1]}[0, 0])"
            return f"{la}.matrix_power({a[0]}, {power})"
        if op == "sigmoid":
            return f"(0.5 * (1.0 + {m}.tanh(0.5 * {a[0]})))"
        if op == "hpow":
            return f"({a[0]} ** {a[1]})"
        if op == "ones":
            return f"{m}.ones_like({a[0]})"
        if op == "sum":
            return f"{m}.sum({a[0]}).reshape(1, 1)"
        if op == "norm":
            return f"{m}.sqrt({m}.sum({a[0]} * {a[0]})).reshape(1, 1)"
        if op in ("norm1", "norm2", "norminf"):      # np.linalg.norm(A, 2): numpy's meaning on 2-D arrays
            order = {"norm1": "1", "norm2": "2", "norminf": "float('inf')" if self.backend == "torch"
                     else f"{m}.inf"}[op]
            return f"{la}.norm({a[0]}, {order}).reshape(1, 1)"
        if op == "pnorm":
            return f"{la}.norm({a[0]}[:, 0], {int(e.args[1].value)}).reshape(1, 1)"
        if op in ("max", "min"):
            return f"{m}.{op}({a[0]}).reshape(1, 1)"
        if op == "eigvalsh":
            return f"{la}.eigvalsh({a[0]}).reshape(-1, 1)"
        if op == "diag":
            return f"{m}.diag({a[0]}[:, 0])"
        if op == "diagvec":
            return f"{m}.diagonal({a[0]}).reshape(-1, 1)"
        if op in ("toeplitz_mean", "toeplitz_sum"):
            self.helpers.add("toeplitz")
            return f"_toeplitz({a[0]}, {op == 'toeplitz_mean'})"
        if op == "kron":
            if self.backend == "torch":      # torch.kron views its operands: transposes must be copied
                return f"{m}.kron({a[0]}.contiguous(), {a[1]}.contiguous())"
            return f"{m}.kron({a[0]}, {a[1]})"
        if op == "vec":
            return f"{a[0]}.T.reshape(-1, 1)"
        if op == "unvec":
            return f"{a[0]}.reshape({a[1]}.shape[1], {a[1]}.shape[0]).T"
        if op == "commutation":
            self.helpers.add("commutation")
            return f"_commutation({a[0]}.shape[0], {a[0]}.shape[1])"
        if op == "eye":
            return f"{m}.eye({a[0]}.shape[0]{self._dtype()})"
        raise UsageError(f"no {self.backend} code for {op}()",
                         hint="every function of the language should have a translation in matident.codegen")

    def _chain(self, factors):
        """A matrix product, with solve() in place of an inverse that is not shared."""
        la = self.la
        for i, f in enumerate(factors):
            coeff, inverse = _inverse_factor(f)
            if inverse is not None and inverse not in self.shared and len(factors) > 1:
                left, right = factors[:i], factors[i + 1:]
                inner = self.emit(inverse.args[0])
                scale = "" if coeff is None else f"{self._number(coeff)} * "
                if right:
                    code = f"{scale}{self._temp(f'{la}.solve({inner}, {self._chain(right)})')}"
                    return f"({self._chain(left)} @ {code})" if left else f"({code})"
                return f"({scale}{self._temp(f'{la}.solve({inner}.T, {self._chain(left)}.T).T')})"

        if len(factors) == 1:
            return self.emit(factors[0])
        return "(" + " @ ".join(self.emit(f) for f in factors) + ")"

    def _temp(self, code):
        """A temporary for ``code`` (a solve), shared by every use of the same code."""
        if code not in self.solves:
            self.solves[code] = f"_s{len(self.solves) + 1}"
            self.lines.append(f"{self.solves[code]} = {code}")
        return self.solves[code]

    def _number(self, v):
        if isinstance(v, Fraction):
            v = v.numerator / v.denominator
        text = repr(float(v))
        return f"({text})" if text.startswith("-") else text

    def _size(self, dim):
        if isinstance(dim, int):
            return str(dim)
        if isinstance(dim, Prod):
            return " * ".join(self._size(f) for f in dim.factors)
        if dim is None:
            raise UsageError("an identity of unknown size cannot be written as code")
        return f"_dims[{dim!r}]"


def _inverse_factor(f):
    """(coefficient or None, the inv() node) if f is inv(M) or c * inv(M), else (None, None)."""
    if f.op == "inv":
        return None, f
    if f.op == E.MUL and len(f.args) == 2 and f.args[0].op == E.NUM and f.args[1].op == "inv":
        return f.args[0].value, f.args[1]
    return None, None


def _count_chain_inverses(e, counts, seen):
    """How often each inv() node occurs as a factor of a product of several factors."""
    if e in seen:
        return
    seen.add(e)
    if e.op == E.MATMUL:
        for f in e.args:
            inverse = _inverse_factor(f)[1]
            if inverse is not None:
                counts[inverse] += 1
    for a in e.args:
        _count_chain_inverses(a, counts, seen)


def _count(e, counts):
    counts[e] += 1
    if counts[e] == 1:
        for a in e.args:
            _count(a, counts)


def _dim_text(d):
    return str(d)


def _shape_of_arg(name):
    return f"tuple(getattr({name}, 'shape', ()))"


def _is_scalar(e, symbols):
    from .shapes import is_scalar_shape, shape_of
    return is_scalar_shape(shape_of(e, symbols))
