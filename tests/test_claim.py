"""matident.check: verdicts on right and wrong claims, and the slip each wrong one contains."""
import json
import subprocess
import sys

import pytest

import matident
from matident.claim import check
from matident.errors import ParseError

from conftest import ROOT

SPD = {"X": "spd n"}
INV = {"X": "matrix n n invertible"}

# (expression, wrt, symbols, claim) -- each claim is the right derivative
RIGHT = [
    ("x.T @ A @ x", "x", None, "A @ x + A.T @ x"),
    ("x.T @ A @ x", "x", {"A": "symmetric n"}, "2 * A @ x"),
    ("tr(A @ X @ B)", "X", None, "A.T @ B.T"),
    ("tr(X.T @ A @ X)", "X", None, "(A + A.T) @ X"),
    ("logdet(X)", "X", INV, "inv(X).T"),
    ("log(x.T @ A @ x)", "x", {"A": "spd n"}, "2 * A @ x / (x.T @ A @ x)"),
    ("norm(A @ x - b) ** 2", "x", None, "2 * A.T @ (A @ x - b)"),
    ("a.T @ X @ b", "X", None, "a @ b.T"),
    ("A @ x", "x", None, "A"),
    ("tr(inv(X) @ A)", "X", INV, "-(inv(X) @ A @ inv(X)).T"),
    ("det(X)", "X", INV, "det(X) * inv(X).T"),
    ("tr(S @ X) - logdet(X)", "X", {"X": "spd n", "S": "symmetric n"}, "S - inv(X)"),
    ("exp(a.T @ x)", "x", None, "exp(a.T @ x) * a"),
    ("tr(X @ X)", "X", None, "2 * X.T"),
    ("sum(exp(x))", "x", None, "exp(x)"),
    ("tr(A @ X)", "X", {"X": "symmetric n"}, "(A + A.T) / 2"),
    ("x.T @ x / 2", "x", None, "x"),
    # Jacobians of matrix-valued functions, d vec(F) = J @ vec(dX)
    ("A @ X @ B", "X", None, "kron(B.T, A)"),
    ("X.T", "X", None, "commutation(X)"),
    ("inv(X)", "X", INV, "-kron(inv(X).T, inv(X))"),
]

# (expression, wrt, symbols, claim, the slip it contains)
WRONG = [
    ("x.T @ A @ x", "x", None, "2 * A @ x", "symmetric-only"),
    ("tr(A @ X @ B)", "X", None, "B @ A", "transposed"),
    ("tr(X.T @ A @ X)", "X", None, "2 * A @ X", "symmetric-only"),
    ("a.T @ X @ b", "X", None, "b @ a.T", "transposed"),
    ("norm(A @ x - b) ** 2", "x", None, "A.T @ (A @ x - b)", "factor"),
    ("logdet(X)", "X", INV, "-inv(X).T", "sign"),
    ("tr(inv(X) @ A)", "X", INV, "inv(X) @ A @ inv(X)", "sign"),
    ("A @ x", "x", None, "A.T", "layout"),
    ("x.T @ A @ x", "x", None, "x.T @ (A + A.T)", "layout"),
    ("logdet(X)", "X", SPD, "2 * inv(X) - inv(X) * I", "symmetric-convention"),
    ("tr(A @ X)", "X", {"X": "symmetric n"}, "A.T", "not-symmetrised"),
    ("x.T @ A @ x + b.T @ x", "x", None, "A @ x + A.T @ x", "missing-term"),
    ("exp(a.T @ x)", "x", None, "exp(a.T @ x) * a + a", "extra-term"),
    ("tr(X @ X)", "X", None, "2 * X", "transposed"),
    ("x.T @ x / 2", "x", None, "2 * x", "factor"),
    ("tr(S @ X) - logdet(X)", "X", {"X": "spd n", "S": "symmetric n"},
     "2 * S - S * I - 2 * inv(X) + inv(X) * I", "symmetric-convention"),
    ("det(X)", "X", INV, "det(X) * inv(X)", "transposed"),
    ("A @ X @ B", "X", None, "kron(A, B.T)", "vec-convention"),
    ("A @ X @ B", "X", None, "kron(B, A)", "transposed"),
    ("X.T @ X", "X", None, "kron(eye(X.T), X.T)", "missing-term"),
]


@pytest.mark.parametrize("expr, wrt, symbols, claim", RIGHT, ids=[f"{e} d{w}: {c}" for e, w, _, c in RIGHT])
def test_right_claims_are_right(expr, wrt, symbols, claim):
    r = check(expr, wrt, claim, symbols=symbols)
    assert r.ok, str(r)
    assert r.status == "right" and r.slip is None
    assert r.correct is not None and r.correct.check().ok


@pytest.mark.parametrize("expr, wrt, symbols, claim, slip", WRONG,
                         ids=[f"{e} d{w}: {c}" for e, w, _, c, _ in WRONG])
def test_wrong_claims_are_wrong_and_the_slip_is_named(expr, wrt, symbols, claim, slip):
    r = check(expr, wrt, claim, symbols=symbols)
    assert not r.ok and r.status == "wrong", str(r)
    assert r.slip == slip, str(r)
    assert r.correct is not None and r.correct.text in r.diagnosis or r.correct.text in str(r)


def test_at_least_thirty_claims_half_right_half_wrong():
    assert len(RIGHT) + len(WRONG) >= 30
    assert abs(len(RIGHT) - len(WRONG)) <= 1


def test_unexplained_difference_says_where():
    r = check("x.T @ A @ x", "x", "x")
    assert not r.ok and r.slip is None
    assert "differs from the right answer A @ x + A.T @ x" in r.diagnosis


def test_diagonal_only_difference():
    r = check("tr(A @ X)", "X", "A.T * (ones(A) + I)", symbols={"A": "matrix n n"})
    assert not r.ok and "diagonal only" in r.diagnosis, str(r)


def test_verdict_does_not_depend_on_the_engine(monkeypatch):
    """With no rule to derive the answer, the claim is still judged by finite differences."""
    import matident.claim as claim_module
    monkeypatch.setattr(claim_module, "_derive", lambda *a: None)
    assert check("tr(A @ X @ B)", "X", "A.T @ B.T").ok
    r = check("tr(A @ X @ B)", "X", "B @ A")
    assert not r.ok and r.slip == "transposed" and r.correct is None


def test_claim_with_a_foreign_symbol_is_a_clear_error():
    with pytest.raises(ParseError, match="the claim uses 'B'"):
        check("x.T @ A @ x", "x", "B @ x")


def test_public_api_and_json():
    r = matident.check("x.T @ A @ x", "x", "2 * A @ x", symbols={"A": "symmetric n"})
    assert r.ok
    d = r.as_dict()
    assert d["ok"] and d["correct"] == "2 * A @ x"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "matident", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_exit_codes():
    ok = _run("check", "x.T @ A @ x", "--wrt", "x", "--claim", "A @ x + A.T @ x")
    assert ok.returncode == 0 and "RIGHT" in ok.stdout
    bad = _run("check", "x.T @ A @ x", "--wrt", "x", "--claim", "2 * A @ x")
    assert bad.returncode == 1 and "holds only when A is symmetric" in bad.stdout
    sym = _run("check", "x.T @ A @ x", "--wrt", "x", "--claim", "2 * A @ x", "--symbol", "A=symmetric n")
    assert sym.returncode == 0
    js = _run("check", "tr(A @ X)", "--wrt", "X", "--claim", "A", "--json")
    assert js.returncode == 1 and json.loads(js.stdout)["slip"] == "transposed"
    usage = _run("check", "x.T @ A @ x", "--wrt", "x", "--claim", "x'")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


# slips made mechanically from right answers: each must be caught and named
SLIP_BASES = [
    ("tr(A @ X @ B)", "X", None), ("x.T @ A @ x", "x", None), ("norm(A @ x - b) ** 2", "x", None),
    ("tr(inv(X) @ A)", "X", INV), ("log(x.T @ A @ x)", "x", {"A": "spd n"}), ("sum(exp(W @ x))", "x", None),
    ("a.T @ X @ X.T @ b", "X", None), ("tr(X.T @ A @ X @ B)", "X", None), ("det(X)", "X", INV),
    ("norm(A @ X - B) ** 2", "X", None),
]


def _slips(text):
    return [("sign", f"-({text})"), ("factor", f"2 * ({text})"), ("factor", f"({text}) / 3"),
            ("transposed" , f"({text}).T")]


@pytest.mark.parametrize("expr, wrt, symbols", SLIP_BASES, ids=[e for e, _, _ in SLIP_BASES])
def test_mechanical_slips_are_named(expr, wrt, symbols):
    right = matident.derive(expr, wrt, symbols=symbols).text
    assert check(expr, wrt, right, symbols=symbols).ok
    for slip, claim in _slips(right):
        r = check(expr, wrt, claim, symbols=symbols)
        assert not r.ok, claim
        expected = {"layout"} if (slip == "transposed" and wrt == "x") else {slip}
        assert r.slip in expected, (claim, r.slip, r.diagnosis)
