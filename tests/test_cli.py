"""The command line: exit codes, JSON on stdout, one-line errors, installed data."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

GOOD = """\
- id: trace-of-product-commutes
  title: Trace of a product commutes
  kind: identity
  symbols: {A: matrix m n, B: matrix n m}
  lhs: tr(A @ B)
  rhs: tr(B @ A)
  tags: [trace]
"""

WRONG = """\
- id: wrong-transpose
  title: Gradient of tr(AX) with a flipped transpose
  kind: derivative
  symbols: {A: matrix n n, X: matrix n n}
  wrt: X
  lhs: tr(A @ X)
  rhs: A
  tags: [trace]
"""


def run(*args, cwd=ROOT):
    proc = subprocess.run([sys.executable, "-m", "matident", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def test_verify_json_reports_counts_and_exits_zero():
    code, out, err = run("verify", "--json")
    report = json.loads(out)
    assert code == 0, err
    assert report["failed"] == 0 and report["inconclusive"] == 0
    assert report["passed"] == len(report["results"]) > 0
    first = report["results"][0]
    assert {"id", "status", "file", "line", "error"} <= set(first)
    assert "passed" in err  # the human summary goes to stderr


def test_verify_a_false_record_exits_one_and_names_it(write_yaml):
    path = write_yaml(WRONG)
    code, out, err = run("verify", str(path), "--json", "--seed", "5")
    assert code == 1
    report = json.loads(out)
    assert report["failed"] == 1
    result = report["results"][0]
    assert result["id"] == "wrong-transpose" and result["status"] == "failed"
    assert result["line"] == 1 and result["seed"] == 5 and result["error"] > 0.01
    assert result["sizes"]
    assert "wrong-transpose: FAILED (seed 5, sizes n=" in err


def test_verify_an_invalid_file_exits_one_with_location(write_yaml):
    path = write_yaml(GOOD.replace("tr(B @ A)", "tr(B @ C)"))
    code, out, err = run("verify", str(path))
    assert code == 1
    assert f"{path.name}:6:8: MI007 [trace-of-product-commutes] rhs: symbol 'C' is not declared" in err
    assert "Traceback" not in err


def test_verify_good_file(write_yaml):
    code, _, err = run("verify", str(write_yaml(GOOD)))
    assert code == 0, err


def test_usage_error_is_one_line_and_exit_two():
    code, out, err = run("verify", "--trials", "zero")
    assert code == 2
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "matident: error: argument --trials: expected a whole number, got 'zero'"


def test_help_has_examples():
    code, out, _ = run("--help")
    assert code == 0 and "examples:" in out and "matident verify" in out


def test_show_prints_record_latex_and_verification():
    import matident
    rid = next(iter(matident.catalogue())).id
    code, out, err = run("show", rid)
    assert code == 0, err
    assert rid in out and "latex:" in out and "PASSED" in out


def test_show_unknown_id():
    code, _, err = run("show", "no-such-identity")
    assert code == 2
    assert "no identity with id 'no-such-identity'" in err


def test_same_seed_same_report_byte_for_byte():
    a = run("verify", "--json", "--seed", "3")[1]
    b = run("verify", "--json", "--seed", "3")[1]
    assert a == b


@pytest.mark.slow
def test_plain_install_finds_catalogue_and_schema(tmp_path):
    """A non-editable install ships identities/ and schema/ inside the package."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(ROOT)], check=True, timeout=600)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import matident, pathlib; c = matident.catalogue(); "
            "print(len(c), pathlib.Path(matident.__file__).parent.parent == pathlib.Path(%r))" % str(target))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path, check=True).stdout.split()
    assert int(out[0]) == len(__import__("matident").catalogue())
    assert out[1] == "True"
    assert (target / "matident" / "data" / "schema" / "identity.schema.json").is_file()
