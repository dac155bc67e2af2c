"""Generated gradient code (Derivation.code, derive --emit): run against finite differences.

numpy always; JAX and PyTorch when installed (the ``grad`` extra), where the code is
also cross-checked against jax.grad / torch.autograd.  Finite differences are taken
of matident's own numpy evaluator, independent of the generated code.
"""
import importlib.util
import subprocess
import sys
import types

import numpy as np
import pytest

from matident.derive import derive
from matident.errors import UsageError
from matident.evaluate import EvaluationError, evaluate
from matident.verify import directional_derivative, project, draw_direction, draw_sizes, draw_value

from conftest import ROOT
from test_derive import EXAMPLES
from test_vecderiv import CASES as VEC_CASES

HAVE = {"numpy": True,
        "jax": importlib.util.find_spec("jax") is not None,
        "torch": importlib.util.find_spec("torch") is not None}

# derive test cases (expression, wrt, symbols, order) with a closed form, plus a few more
CASES = [(e, w, s, o) for e, w, s, o, _ in EXAMPLES] + [
    ("logdet(X) + tr(inv(X) @ A)", "X", {"X": "spd n"}, 1),
    ("x.T @ inv(A) @ x", "x", {"A": "spd n"}, 1),
    ("log(x.T @ A @ x) + tr(inv(A) @ x @ x.T)", "x", {"A": "spd n"}, 1),
    ("norm(A @ x - b) ** 2", "x", None, 2),
    ("sum(log(ones(y) + exp(-y * (A @ w))))", "w", {"y": "vector m", "A": "matrix m n"}, 1),
    ("pi * x.T @ A @ x + tr(cos(pi) * A) + (2 * pi) ** (-1 / 2) * exp(-(x.T @ x) / 2)", "x", None, 1),
]
CASES += [(e, w, s, o) for e, w, s, o, _, _ in VEC_CASES]     # vec-Jacobians and matrix Hessians
IDS = [f"{e} d{w} o{o}" for e, w, _, o in CASES]


def load(source, name="generated"):
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)    # our own generated code
    return module


def instance(d, seed=0):
    rng = np.random.default_rng(seed)
    symbols = {n: s for n, s in d.symbols.items() if n != f"d{d.wrt}"}
    for _ in range(25):
        sizes = draw_sizes(symbols, rng)
        try:
            values = {n: draw_value(s, sizes, rng) for n, s in symbols.items()}
            evaluate(d.expr, values, sizes)
            evaluate(d.result_expr, values, sizes)
            return symbols, values, sizes, rng
        except EvaluationError:
            continue
    raise AssertionError("no valid instance")


def fd_check(d, derivative, values, sizes, rng, of=None):
    """derivative (in matident's layout) against central differences of evaluate(of)."""
    of = d.expr if of is None else of
    x0 = values[d.wrt]
    decl = d.symbols[d.wrt]
    derivative = np.asarray(derivative, dtype=float)
    for _ in range(2):
        v = draw_direction(decl, x0.shape, rng)
        fd = directional_derivative(lambda x: evaluate(of, {**values, d.wrt: x}, sizes), x0, v)
        f0 = evaluate(of, values, sizes)
        if f0.shape == (1, 1) and x0.shape != (1, 1):          # gradient
            pred = np.array([[np.sum(derivative.reshape(x0.shape) * v)]])
        elif x0.shape == (1, 1):
            pred = derivative.reshape(fd.shape) * v[0, 0]
        elif x0.shape[1] == 1 and f0.shape[1] == 1:           # Jacobian of vectors
            pred = derivative @ v
        else:                                                   # vec-Jacobian
            pred = (derivative @ v.reshape(-1, 1, order="F")).reshape(fd.shape, order="F")
        err = np.linalg.norm(pred - fd) / max(np.linalg.norm(fd), np.linalg.norm(pred), 1e-12)
        assert err < 1e-6, (d.text, err)


def run_case(case, backend):
    expr, wrt, symbols, order = case
    d = derive(expr, wrt, symbols=symbols, order=order)
    module = load(d.code(backend))
    symbols_, values, sizes, rng = instance(d)
    args = {n: _convert(values[n], backend) for n in symbols_}
    out = module.value_and_grad(**args)
    out = [_numpy(o) for o in out]
    assert len(out) == (3 if order == 2 else 2)
    value = evaluate(d.expr, values, sizes)
    np.testing.assert_allclose(np.asarray(out[0]).reshape(value.shape), value, rtol=1e-9, atol=1e-12)
    if order == 1:
        fd_check(d, out[1], values, sizes, rng)
    else:
        fd_check(d, out[1], values, sizes, rng)
        fd_check(d, out[2], values, sizes, rng, of=d.gradient_expr)
    return d, module, values, args, out


def structured(d, grad):
    """Autodiff's gradient of all entries, projected as matident's convention says (symmetric part...)."""
    return project(d.symbols[d.wrt].structure, grad)


def _convert(a, backend):
    if backend == "torch":
        import torch
        return torch.tensor(a, dtype=torch.float64)
    return a


def _numpy(a):
    return a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_numpy_code_against_finite_differences(case):
    run_case(case, "numpy")


def _vec_layout(t, out_shape, in_shape):
    """An autodiff tensor of shape out_shape + in_shape as matident's vec-Jacobian (column-major vec)."""
    t = np.asarray(t).reshape(*out_shape, *in_shape)
    t = np.transpose(t, (1, 0, 3, 2))
    return t.reshape(out_shape[0] * out_shape[1], in_shape[0] * in_shape[1])


def _projector(d, shape):
    """P with P vec(V) = vec of V projected on the variable's structure (I when unstructured)."""
    n = shape[0] * shape[1]
    cols = [project(d.symbols[d.wrt].structure, e.reshape(shape, order="F")).reshape(-1, order="F")
            for e in np.eye(n)]
    return np.array(cols).T


def _compare_with_autodiff(d, out, auto_first, auto_second, values):
    x0 = values[d.wrt]
    if d.what == "gradient":
        auto = structured(d, np.asarray(auto_first).reshape(x0.shape))
        np.testing.assert_allclose(np.asarray(out[1]).reshape(auto.shape), auto, rtol=1e-8, atol=1e-10)
    elif d.what == "jacobian":                    # d vec F = J vec dX, on directions inside the structure
        value = np.asarray(out[0])
        auto = _vec_layout(auto_first, value.shape, x0.shape)
        p = _projector(d, x0.shape)
        np.testing.assert_allclose(np.asarray(out[1]) @ p, auto @ p, rtol=1e-7, atol=1e-9)
    elif d.what == "hessian":
        auto = _vec_layout(auto_second, x0.shape, x0.shape)
        p = _projector(d, x0.shape)
        np.testing.assert_allclose(p @ np.asarray(out[2]) @ p, p @ auto @ p, rtol=1e-7, atol=1e-9)


@pytest.mark.skipif(not HAVE["jax"], reason="jax is not installed (pip install '.[grad]')")
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jax_code_against_finite_differences_and_jax_autodiff(case):
    import jax
    d, module, values, args, out = run_case(case, "jax")
    if d.what == "derivative":
        return

    def f(x):
        return module.value_and_grad(**{**args, d.wrt: x})[0]
    x0 = values[d.wrt]
    first = jax.grad(f)(x0) if d.what in ("gradient", "hessian") else jax.jacfwd(f)(x0)
    second = jax.hessian(f)(x0) if d.what == "hessian" else None
    _compare_with_autodiff(d, out, first, second, values)


@pytest.mark.skipif(not HAVE["torch"], reason="torch is not installed (pip install '.[grad]')")
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_code_against_finite_differences_and_autograd(case):
    import torch
    from torch.autograd.functional import hessian, jacobian
    d, module, values, args, out = run_case(case, "torch")
    if d.what == "derivative":
        return

    def f(x):
        return module.value_and_grad(**{**args, d.wrt: x})[0]
    x0 = torch.tensor(values[d.wrt], dtype=torch.float64)
    first = jacobian(f, x0).numpy()
    second = hessian(f, x0).numpy() if d.what == "hessian" else None
    _compare_with_autodiff(d, out, first, second, values)


def test_vectors_may_be_flat_and_the_gradient_keeps_their_shape():
    d = derive("x.T @ A @ x", "x")
    module = load(d.code())
    A, x = np.arange(9.0).reshape(3, 3), np.array([1.0, -2.0, 0.5])
    value, grad = module.value_and_grad(A=A, x=x)
    assert grad.shape == (3,) and np.allclose(grad, (A + A.T) @ x) and np.isclose(value, x @ A @ x)
    _, grad2 = module.value_and_grad(A=A, x=x.reshape(3, 1))
    assert grad2.shape == (3, 1)


def test_shape_checks_name_the_argument():
    module = load(derive("x.T @ A @ x", "x").code())
    with pytest.raises(ValueError, match="x is .* but n = 3"):
        module.value_and_grad(A=np.eye(3), x=np.ones(4))
    with pytest.raises(ValueError, match="A must be a n x n array"):
        module.value_and_grad(A=np.ones((2, 2, 2)), x=np.ones(2))


def test_sound_forms_and_common_subexpressions_once():
    src = derive("x.T @ inv(A) @ x", "x", symbols={"A": "spd n"}).code()
    assert "np.linalg.solve(A, x)" in src and "np.linalg.inv" not in src
    src = derive("logdet(X) + tr(X)", "X", symbols={"X": "spd n"}).code()
    assert "slogdet" in src
    src = derive("log(x.T @ A @ x)", "x", symbols={"A": "spd n"}).code()
    code = src.split('def value_and_grad', 1)[1].split('dims = {}', 1)[1]     # the body
    assert code.count("@ A @ x") == 1, code     # x.T @ A @ x computed once, into a temporary


def test_unknown_backend_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown backend"):
        derive("x.T @ x", "x").code("tensorflow")


def test_cli_emit():
    out = subprocess.run([sys.executable, "-m", "matident", "derive", "tr(A @ X @ B)", "--wrt", "X",
                          "--emit", "numpy"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    module = load(out.stdout)
    A, X, B = np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 2))
    value, grad = module.value_and_grad(A=A, X=X, B=B)
    assert np.allclose(grad, A.T @ B.T) and np.isclose(value, np.trace(A @ X @ B))


@pytest.mark.parametrize("backend", [b for b in ("numpy", "jax", "torch") if HAVE[b]])
def test_symbols_named_like_the_module_or_its_temporaries_do_not_shadow_them(backend):
    d = derive("np.T @ dims @ np + tr(torch @ jnp) + jax.T @ t1", "np",
               symbols={"np": "vector n", "dims": "matrix n n", "torch": "matrix n n", "jnp": "matrix n n",
                        "jax": "vector n", "t1": "vector n"})
    module = load(d.code(backend))
    values = {"np": np.arange(1.0, 4.0), "dims": np.diag([1.0, 2.0, 3.0]), "torch": np.eye(3),
              "jnp": np.ones((3, 3)), "jax": np.ones(3), "t1": np.ones(3)}
    args = {k: _convert(v, backend) for k, v in values.items()}
    value, grad = module.value_and_grad(**args)
    assert np.isclose(float(_numpy(value)), 1 + 8 + 27 + 3 + 3)
    assert np.allclose(_numpy(grad), [2.0, 8.0, 18.0])
