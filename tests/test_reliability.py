"""Issue 14: no crash, hang, silent corruption, foreign code or vacuous pass.

Every reproduction of the issue is a test here (or in test_cache_safety.py and the
malformed-file corpus, cases 51-59), asserting the exact outcome: the exit code,
the one-line message with its hint, no traceback, and where the issue was a hang
a bound on the work done (counted, never timed).
"""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matident
from conftest import ROOT
from matident import cli
from matident.catalogue import load
from matident.errors import CatalogueError, DeclarationError, MatidentError, ParseError, UsageError

V = importlib.import_module("matident.verify")
CORPUS = Path(__file__).parent / "malformed"

GOOD = """\
- id: {id}
  title: Trace of a product commutes
  kind: identity
  symbols: {{A: matrix m n, B: matrix n m}}
  lhs: tr(A @ B)
  rhs: tr(B @ A)
  tags: [trace]
"""


def run(argv, capsys):
    """``matident ARGV`` in this process: (exit code, stdout, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:          # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


def last_line(err):
    return err.strip().splitlines()[-1]


# -- crashes -------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["verify", "--seed", "-1"],
    ["show", "trace-axb-derivative", "--seed", "-1"],
    ["derive", "tr(X)", "--wrt", "X", "--seed", "-1"],
])
def test_negative_seed_on_the_command_line(argv, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert last_line(err) == ("matident: error: argument --seed: expected a whole number from 0 to "
                              "2**63-1, got '-1'")


@pytest.mark.parametrize("call", [
    lambda: matident.verify(seed=-1),
    lambda: matident.verify(seed=1.5),
    lambda: matident.verify(seed=True),
    lambda: V.check_record(matident.catalogue()["trace-axb-derivative"], seed=-1),
    lambda: matident.derive("tr(X)", "X", check=False).check(seed=-1),
], ids=["verify", "float", "bool", "check_record", "derivation-check"])
def test_negative_seed_in_the_api(call):
    with pytest.raises(UsageError) as info:
        call()
    assert str(info.value).startswith("MI050 the seed must be a whole number from 0 to 2**63-1, got ")
    assert info.value.hint


@pytest.mark.parametrize("trials", [0, -3, 2.5, None])
def test_trials_that_check_nothing_are_refused_in_the_api(trials):
    records = list(matident.catalogue())[:2]
    with pytest.raises(UsageError, match=r"trials must be a whole number from 1 to 10000"):
        matident.verify(records, trials=trials)
    with pytest.raises(UsageError):
        matident.derive("tr(X)", "X", check=False).check(trials=trials)


@pytest.mark.parametrize("value", ["0", "-3"])
def test_trials_that_check_nothing_are_refused_on_the_command_line(value, capsys):
    code, _, err = run(["verify", "--trials", value], capsys)
    assert code == 2
    assert last_line(err) == f"matident: error: argument --trials: expected a number from 1 to 10000, got {value}"


def test_product_of_dimensions_is_capped(capsys):
    with pytest.raises(DeclarationError) as info:
        matident.parse("x.T @ x", symbols={"x": "vector 9999*9999*9999"})
    assert str(info.value) == ("MI010 dimension 9999*9999*9999 is 999,700,029,999 in 'vector 9999*9999*9999'; "
                               "at most 9999 (hint: use a dimension name such as n for a size nobody fixes)")
    code, _, err = run(["derive", "x.T @ x", "--wrt", "x", "--symbol", "x=vector 9999*9999*9999"], capsys)
    assert code == 2 and "at most 9999" in last_line(err)


def test_sizes_too_large_to_check_are_refused_before_any_array_is_built(monkeypatch, capsys):
    """`--symbol X='matrix 9999 9999'` took > 40 s and 1.6 GB; now nothing is evaluated."""
    def no_evaluation(*args, **kwargs):
        raise AssertionError("an array was built")
    monkeypatch.setattr(V, "evaluate", no_evaluation)
    monkeypatch.setattr(V, "draw_value", no_evaluation)
    code, out, err = run(["derive", "logdet(X) + tr(A @ X)", "--wrt", "X", "--symbol", "X=matrix 9999 9999"],
                         capsys)
    assert code == 2 and out == ""
    assert last_line(err) == (
        "matident: error: MI050 too large to check numerically: 'X' would have 9,999 x 9,999 entries "
        "(the limit is 4,096) (hint: declare symbolic sizes such as 'matrix n n' (they are drawn from 2 "
        "to 6) or skip the check)")
    with pytest.raises(UsageError, match="too large to check numerically"):
        matident.derive("tr(X)", "X", symbols={"X": "matrix 100 100"})


def _write(folder, name, text):
    path = Path(folder) / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_record_too_large_to_check_is_inconclusive_not_evaluated(tmp_path, monkeypatch):
    path = _write(tmp_path, "huge.yaml", GOOD.format(id="huge-sizes").replace("matrix m n", "matrix 5000 5000")
                  .replace("matrix n m", "matrix 5000 5000"))
    records = load(path)
    monkeypatch.setattr(V, "evaluate", lambda *a, **k: pytest.fail("evaluated"))
    report = matident.verify(records)
    assert not report.ok and report.inconclusive == 1
    assert report.results[0].message.startswith("too large to check numerically: 'A' would have 5,000 x 5,000")


def test_verify_dev_zero_is_refused_without_reading_it(capsys):
    code, _, err = run(["verify", "/dev/zero"], capsys)
    assert code == 1
    assert "/dev/zero: MI029 not a regular file (hint: name a YAML file or a folder of them)" in err


def test_a_huge_file_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.import_module("matident.catalogue"), "MAX_FILE_BYTES", 1000)
    path = _write(tmp_path, "big.yaml", "# padding\n" * 200)
    with pytest.raises(CatalogueError) as info:
        load(path)
    assert str(info.value.errors[0]).endswith(
        "MI029 file is larger than 0 MiB (hint: split it into files of related records (a few kB each))")


# -- anchors and aliases (recursion, expansion bombs) --------------------------------------

@pytest.mark.parametrize("name", ["51-recursive-alias.yaml", "52-alias-bomb.yaml"])
def test_anchors_and_aliases_are_refused_before_anything_is_built(name, monkeypatch):
    catalogue_module = importlib.import_module("matident.catalogue")
    monkeypatch.setattr(catalogue_module, "_construct", lambda *a: pytest.fail("a node was constructed"))
    monkeypatch.setattr(catalogue_module, "_compose_fast", lambda *a: pytest.fail("a file was composed"))
    with pytest.raises(CatalogueError) as info:
        load(CORPUS / name, base=CORPUS)
    (err,) = info.value.errors
    assert err.code == "MI030" and err.line >= 1 and "write the value out in full" in err.hint


def test_alias_bomb_through_the_cli(capsys):
    code, out, err = run(["verify", str(CORPUS / "52-alias-bomb.yaml")], capsys)
    assert code == 1
    assert "MI030 YAML anchor '&a0': identity files do not use anchors (&name) or aliases (*name)" in err


# -- YAML 1.1 traps and backslashes: one rule -------------------------------------------------

def test_latex_in_text_is_one_rule_with_one_message_however_it_is_quoted(tmp_path):
    """'\\frac' in single quotes, "\\\\frac" (correctly escaped) and "\\frac" (YAML turned
    \\f into a form feed) all get the same message: text fields are plain text, shown and
    indexed for search as written (the docs' search index must hold no LaTeX).  The hint
    never recommends LaTeX, so following it cannot fail a later check."""
    messages = []
    for i, notes in enumerate(["'\\frac{1}{2}'", '"\\\\frac{1}{2}"', '"\\frac{1}{2}"']):
        path = _write(tmp_path, f"f{i}.yaml", GOOD.format(id=f"latex-{i}") + f"  notes: {notes}\n")
        with pytest.raises(CatalogueError) as info:
            load(path)
        (err,) = info.value.errors
        assert (err.code, err.line, err.column) == ("MI024", 8, 10)
        messages.append(err.message.split(" (in double quotes")[0])
        assert "\\" not in err.hint and "LaTeX" in err.hint
    assert messages == ["notes: LaTeX command '\\frac' in text"] * 3


def test_backslash_free_text_and_escapes_that_stay_printable_load(tmp_path):
    path = _write(tmp_path, "ok.yaml", GOOD.format(id="plain-notes")
                  + '  notes: "quoted \\"words\\", a slash \\/ and \\u00e9; tr(A B) = tr(B A)"\n')
    assert load(path)["plain-notes"].notes == 'quoted "words", a slash / and \u00e9; tr(A B) = tr(B A)'


# -- duplicate ids, .yml files, empty folders ----------------------------------------------

def test_duplicate_id_is_blamed_on_the_newer_file_and_names_both(tmp_path):
    folder = tmp_path / "identities"
    folder.mkdir()
    shipped = _write(folder, "trace-derivatives.yaml", "# shipped\n\n" + GOOD.format(id="shared-id"))
    new = _write(folder, "a-new-file.yaml", GOOD.format(id="shared-id"))   # sorts first, written later
    os.utime(shipped, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    os.utime(new, ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))
    with pytest.raises(CatalogueError) as info:
        load(folder, base=tmp_path)
    assert [str(e) for e in info.value.errors] == [
        "identities/a-new-file.yaml:1:7: MI023 [shared-id] duplicate id 'shared-id' (also defined at "
        "identities/trace-derivatives.yaml:3) (hint: ids are unique across all files: rename this one)"]


def test_yml_files_in_a_folder_are_refused_loudly(tmp_path, capsys):
    _write(tmp_path, "good.yaml", GOOD.format(id="good-one"))
    _write(tmp_path, "other.yml", GOOD.format(id="other-one"))
    code, _, err = run(["verify", str(tmp_path)], capsys)
    assert code == 1
    assert "other.yml: MI029 identity files end in .yaml; this one is not loaded (hint: rename it to other.yaml)" in err
    assert load(tmp_path / "other.yml")["other-one"]        # named explicitly, it is read


def test_verify_of_an_empty_folder_is_no_success(tmp_path, capsys):
    code, out, err = run(["verify", str(tmp_path)], capsys)
    assert code == 1
    assert "MI029 folder holds no identity files (*.yaml)" in err
    assert last_line(err) == "matident verify: 0 passed, 0 failed, 0 inconclusive, 1 invalid"
    report = matident.verify([])
    assert not report.ok and str(report) == "0 passed, 0 failed, 0 inconclusive: nothing was verified"


# -- pre-commit ------------------------------------------------------------------------------

def test_precommit_hooks_check_coverage_files():
    import re
    import yaml
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [h for repo in config["repos"] for h in repo["hooks"]]
    for path in ("identities/coverage/cookbook-ch2.yaml", "identities/trace-derivatives.yaml",
                 "identities/new.yml"):
        assert any(re.search(h["files"], path) for h in hooks), path
    coverage = [h for h in hooks if "matident coverage" in h["entry"]]
    assert coverage and re.search(coverage[0]["files"], "identities/coverage/cookbook-ch2.yaml")


def test_a_broken_coverage_file_is_an_error(tmp_path):
    from matident.coverage import coverage
    _write(tmp_path, "bad.yaml", "chapters: &c [*c]\n")
    _write(tmp_path, "stray.yml", "chapters: []\n")
    report = coverage(folder=tmp_path)
    assert not report.ok
    text = [str(p) for p in report.problems]
    assert any("anchors or aliases" in t for t in text) and any("stray.yml" in t for t in text)


# -- the verifier: finite differences dominated by rounding -----------------------------------

def test_gaussian_mixture_weight_derivative_passes_the_issue_seed():
    rec = matident.catalogue()["gaussian-mixture-log-density-weight-derivative"]
    result = V.check_record(rec, trials=20, seed=2)
    assert result.ok, result.describe()


def test_a_difference_of_rounding_noise_is_redrawn_not_counted():
    """f = 30 + 1e-9 x: f(x + h) - f(x - h) is 0 in floating point at every step, so h and h/2
    agree (the settle test passes) while the derivative 1e-9 is lost.  It must be redrawn."""
    from matident.evaluate import EvaluationError
    x, v = np.array([[1.0]]), np.array([[1.0]])
    with pytest.raises(EvaluationError, match="dominated by rounding"):
        V.directional_derivative(lambda y: 30 + 1e-9 * y, x, v)
    assert abs(V.directional_derivative(lambda y: 30 + 0.5 * y, x, v) - 0.5) < 1e-9


# -- wrong or unclear answers at the edges --------------------------------------------------------

@pytest.mark.parametrize("symbols, message", [
    ({"I": "matrix n n"}, "MI010 'I' cannot be declared: it is always the identity matrix "
                          "(hint: give your matrix another name, e.g. J)"),
    ({"x": "vector n", "dx": "vector n"}, "MI010 'dx' cannot be declared beside 'x': it is read as the "
                                          "differential of x (hint: rename one of them, e.g. Dx)"),
    ({"tr": "scalar"}, "MI010 'tr' cannot be declared: it is the function tr() (hint: give your symbol "
                       "another name)"),
])
def test_reserved_declarations_are_refused(symbols, message):
    for call in (lambda: matident.derive("x.T @ x", "x", symbols=symbols),
                 lambda: matident.lookup("x.T @ x", symbols=symbols),
                 lambda: matident.parse("x.T @ x", symbols=symbols)):
        with pytest.raises(DeclarationError) as info:
            call()
        assert str(info.value) == message


def test_reserved_declaration_on_the_command_line(capsys):
    code, _, err = run(["derive", "x.T @ I @ x", "--wrt", "x", "--symbol", "I=matrix n n"], capsys)
    assert code == 2
    assert last_line(err) == ("matident: error: argument --symbol: I: 'I' cannot be declared: it is always "
                              "the identity matrix (hint: give your matrix another name, e.g. J)")


def test_derive_refuses_a_symbol_named_like_the_differential():
    with pytest.raises(ParseError, match="'dX' in the expression would be read as the differential of X"):
        matident.derive("tr(X @ dX)", "X")


@pytest.mark.parametrize("text", ["tr(X) / (1 - 1)", "tr(X) / log(1)", "x / (0 * 2)"])
def test_division_by_a_zero_of_numbers(text):
    with pytest.raises(ParseError) as info:
        matident.parse(text)
    assert info.value.code == "MI011" and info.value.message == "division by zero"


@pytest.mark.parametrize("limit", [0, -1, "a", True, 2.0])
def test_lookup_limit_is_a_positive_int_or_none(limit):
    with pytest.raises(UsageError) as info:
        matident.lookup("tr(X)", limit=limit)
    assert str(info.value).startswith("MI050 limit must be a whole number of at least 1, or None")


def test_lookup_limit_works():
    assert len(matident.lookup("tr(X)", limit=1)) == 1
    assert len(matident.lookup("tr(X)", limit=None)) > 1


@pytest.mark.parametrize("value", ["0", "-1", "a"])
def test_lookup_limit_on_the_command_line(value, capsys):
    code, _, err = run(["lookup", "tr(X)", "--limit", value], capsys)
    assert code == 2 and "argument --limit: expected" in last_line(err)


# each notation of another tool: (text, exact message, what the hint must say)
NOTATIONS = [
    ("X'", "X' (MATLAB's transpose) is not part of the expression language", "write X.T"),
    ("x' @ y", "x' (MATLAB's transpose) is not part of the expression language", "write x.T"),
    ("X^T", "'X^T' is not part of the expression language", "write X.T"),
    ("A @ X^T", "'X^T' is not part of the expression language", "write X.T"),
    ("X^-1", "'X^-1' is not part of the expression language", "write inv(X)"),
    ("X^{-1}", "'X^-1' is not part of the expression language", "write inv(X)"),
    ("Tr(X)", "unknown function 'Tr'", "write tr(X)"),
    ("trace(X)", "unknown function 'trace'", "write tr(X)"),
    ("transpose(X)", "unknown function 'transpose'", "write X.T"),
    ("np.linalg.inv(X)", "'np.linalg.inv(...)' is not part of the expression language",
     "write inv(X) (drop the module prefix)"),
    ("np.trace(A @ X)", "'np.trace(...)' is not part of the expression language", "write tr(A @ X)"),
    ("x.dot(y)", "'x.dot(...)' is not part of the expression language", "write x.T @ y"),
    ("X.transpose()", "'X.transpose(...)' is not part of the expression language", "write X.T"),
    ("X.I", "attribute '.I' is not part of the expression language", "write inv(X)"),
    ("A B", "two operands without an operator between them", "write A @ B for the matrix product"),
    ("x.T A x", "two operands without an operator between them", "write x.T @ A"),
    ("inv X", "inv needs parentheses", "write inv(X)"),
    ("2x", "a number directly followed by a name", "write 2 * x"),
    ("log|X|", "'log|X|' is not part of the expression language", "write logdet(X)"),
    ("||x||^2", "'||x||' is not part of the expression language", "norm(x) ** 2"),
    ("d/dX tr(X)", "'d/dX' is not part of an expression", "--wrt X"),
    ("A(B)", "unknown function 'A'", "write A @ (B) for a product"),
]


@pytest.mark.parametrize("text, message, hint", NOTATIONS, ids=[n[0] for n in NOTATIONS])
def test_notations_of_other_tools_get_the_right_hint(text, message, hint):
    with pytest.raises(ParseError) as info:
        matident.parse(text)
    assert info.value.message == message
    assert hint in info.value.hint
    for leak in ("BitXor", "unterminated string", "did you mean 'T'", "Perhaps you forgot"):
        assert leak not in str(info.value)


@pytest.mark.parametrize("text, symbols, message, hint", [
    ("A / X", {"A": "matrix m n", "X": "matrix n n"}, "cannot divide mxn by 'X' (nxn)",
     "there is no matrix division: write A @ inv(X)"),
    ("X / n", None, "cannot divide", "'n' is read as a column vector"),
])
def test_a_divisor_that_does_not_fit(text, symbols, message, hint):
    with pytest.raises(MatidentError) as info:
        matident.parse(text, symbols)
    assert message in info.value.message and hint in info.value.hint


def test_x_to_the_minus_one_follows_numpy():
    """X ** -1 of an array is elementwise, as numpy's (issue 13); inv(X) is the inverse."""
    from matident.evaluate import evaluate
    typed = matident._typed("X ** -1", {"X": "matrix 2 2"})
    x = np.array([[1.0, 2.0], [4.0, 8.0]])
    assert np.allclose(evaluate(typed.expr, {"X": x}, {}), 1 / x)


@pytest.mark.parametrize("text, symbols", [
    ("A @ B + x", None), ("tr(A) + x", None), ("x @ y", None), ("inv(x) @ A", None), ("A @ x @ B", None),
])
def test_shape_messages_never_show_internal_dimension_names(text, symbols):
    import re
    try:
        matident.parse(text, symbols)
    except MatidentError as exc:
        assert not re.search(r"\bd\d+x|\bxd\d|\?\d", str(exc)), str(exc)


def test_empty_wrt_hint_names_what_to_do(capsys):
    code, _, err = run(["lookup", "2 * 3", "--wrt", "x"], capsys)
    assert code == 2
    assert last_line(err) == ("matident: error: MI050 wrt 'x' does not occur in the expression (hint: the "
                              "expression has no symbols; leave out wrt)")


@pytest.mark.parametrize("argv", [
    ["derive", "-tr(X)", "--wrt", "X"],
    ["derive", "--wrt", "x", "-log(1 + exp(a.T @ x))"],
    ["lookup", "-tr(A @ X)", "--wrt", "X", "--limit", "1"],
    ["lookup", "-2 * logdet(X)", "--limit", "1"],
])
def test_an_expression_may_start_with_a_minus(argv, capsys):
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "required: EXPR" not in err and out


def test_a_minus_is_still_refused_where_it_is_no_expression(capsys):
    code, _, err = run(["verify", "--trials", "-2"], capsys)
    assert code == 2 and "got -2" in last_line(err)


@pytest.mark.parametrize("command", ["lookup", "derive"])
def test_one_symbol_parser_everywhere(command, capsys):
    argv = [command, "logdet(S)", "--wrt", "S", "--symbol", "S='spd n'"]
    code, out, err = run(argv + (["--limit", "1"] if command == "lookup" else []), capsys)
    assert code == 0, err
    code, _, err = run([command, "logdet(S)", "--wrt", "S", "--symbol", "S"], capsys)
    assert code == 2 and "argument --symbol: expected NAME=DECLARATION" in last_line(err)


@pytest.mark.parametrize("text, rid", [("(A + B).T", "transpose-of-sum"), ("kron(A, B).T", "kronecker-transpose")])
def test_records_the_normal_form_applies_are_found_from_their_lhs(text, rid, capsys):
    found = matident.lookup(text)
    assert found and found[0].identity.id == rid
    assert matident.catalogue()[rid].lhs_text == text
    code, out, _ = run(["lookup", text], capsys)
    assert code == 0 and rid in out


# -- packaging -------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_stale_build_folder_never_ships_renamed_files(tmp_path):
    """After renaming an identity file, a second build must not ship the old name too."""
    src = tmp_path / "src"
    for name in ("matident", "identities", "schema"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "data"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)

    def build():
        subprocess.run([sys.executable, "setup.py", "-q", "build_py"], cwd=src, check=True,
                       capture_output=True, timeout=600)
        return sorted(p.name for p in (src / "build" / "lib" / "matident" / "data" / "identities").glob("*.yaml"))

    before = build()
    (src / "identities" / "statistics.yaml").rename(src / "identities" / "statistics-renamed.yaml")
    (src / "matident" / "redundancy.py").unlink()
    after = build()
    assert "statistics.yaml" in before and "statistics.yaml" not in after
    assert "statistics-renamed.yaml" in after and len(after) == len(before)
    assert not (src / "build" / "lib" / "matident" / "redundancy.py").exists()


def test_a_nan_or_an_overflowing_norm_is_never_a_pass():
    """NaN compares false with every tolerance: an error that is NaN would have passed."""
    nan, big = np.array([[np.nan]]), np.array([[1e200, 1e200]])
    assert V.relative_error(nan, np.array([[1.0]])) == float("inf")
    assert V.relative_error(big, big * 2) == pytest.approx(0.5)
    assert V.relative_error(big, big) == 0.0
