"""Hostile inputs through every interface: no crash, hang, traceback or unclear message.

A corpus of hostile expressions, declarations and identity files (the notations of
other tools, code, huge and deep inputs, reserved names, YAML traps, aliases and
bombs, devices, the malformed-file corpus of the tests) is run through ``lookup``,
``derive``, ``show`` and ``verify`` on the command line (in this process, as
``matident.cli.main``) and through the API (``parse``, ``latex``, ``lookup``,
``derive``, ``load``, ``verify``).  Each run is classified:

* crash: an exception other than a :class:`~matident.errors.MatidentError`
  (API), an exit code other than 0, 1, 2 or an "internal error" (CLI);
* traceback: "Traceback" in what the command printed;
* unclear: a refusal whose message has no hint, leaks Python or internal names
  (``BitXor``, ``NoneType``, ``d1xd2``, ``Expr(``), or is not one line;
* hang: a run taking more than :data:`HANG_SECONDS` (a watchdog stops it at
  :data:`WATCHDOG_SECONDS`).

    python benchmarks/hostile.py [--quick] [--verbose]

Prints the counts and every offending run; exit code 0 when all four are zero.
``tests/test_hostile.py`` runs the ``--quick`` subset in CI.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matident  # noqa: E402
from matident import cli  # noqa: E402
from matident.catalogue import load  # noqa: E402
from matident.errors import MatidentError  # noqa: E402

HANG_SECONDS = 2.0
WATCHDOG_SECONDS = 20

# Expressions as people (and attackers) type them.
EXPRESSIONS = [
    # notations of other tools
    "X'", "x' * y", "(A @ B)'", "X^T", "X^-1", "X^{-1}", "x^2", "A @ X^T", "Tr(X)", "trace(X)",
    "Trace(A @ X)", "transpose(X)", "inverse(X)", "np.linalg.inv(X)", "np.trace(X)", "numpy.dot(A, B)",
    "torch.logdet(X)", "x.dot(y)", "X.transpose()", "X.I", "X.H", "A B", "x.T A x", "inv X", "2x",
    "log|X|", "|X|", "||x||^2", "||x||", "d/dX tr(X)", "d/dx (x.T @ x)", "A / X", "X ** -1", "X ** 2",
    "tr(X) / n", "X / n", "A(B)", "det X", "X \\ b", "A .* B", "A ./ B", "sum(x.^2)", "x⊤", "X†",
    "∑ x", "tr(X) // 2", "X % 2", "X & Y", "X | Y", "~X", "not X", "X if y else Z", "X < Y",
    # code and things that are not expressions
    "__import__('os').system('true')", "open('/etc/passwd')", "eval('1')", "exec('x=1')",
    "lambda: 0", "[x for x in y]", "{1: 2}", "X[0]", "X[0:2]", "f'{X}'", "b'x'", "'A'", "x := 3",
    "await x", "*x", "X.__class__", "().__class__.__bases__", "__builtins__", "globals()", "print(X)",
    "sympify('x')", "None", "True + X", "...", "X; Y", "X\nY", "X\0", "X\x1b[31m", "",
    "   ", "(", ")", "((X)", "X))", "@X", "X @", "tr()", "tr(X, Y)", "inv(X, Y)", "kron(X)", "tr",
    "I", "I @ I", "2 * I", "0 / 0", "x / 0", "tr(X) / (1 - 1)", "tr(X) / log(1)", "0 ** -1",
    # sizes, depth and length
    "(" * 300 + "X" + ")" * 300, "-" * 5000 + "X", "X.T" + ".T" * 3000, " + ".join(["X"] * 3000),
    " @ ".join(["X"] * 1500), "tr(" * 60 + "X" + ")" * 60, "9" * 400, "1e999 * X", "1e-999 * X",
    "10 ** 10 ** 10", "2 ** 1000 * X", "X" * 5000, "x" * 20000, "1" + "0" * 40 + " * X",
    "exp(exp(exp(exp(exp(x.T @ x)))))", "log(0) * tr(X)", "inv(0 * X)", "det(x)", "x @ x", "x.T @ x @ A",
    # things that should work
    "-tr(X)", "-log(1 + exp(a.T @ x))", "tr(A @ X @ B)", "logdet(X)", "(A + B).T", "kron(A, B).T",
    "x.T @ A @ x", "norm(x) ** 2", "sum(exp(x))",
]

# (expression, declarations): hostile declarations
DECLARATIONS = [
    ("x.T @ x", {"x": "vector 9999*9999*9999"}), ("tr(X)", {"X": "matrix 9999 9999"}),
    ("logdet(X)", {"X": "spd 5000"}), ("tr(kron(X, X))", {"X": "matrix 64 64"}),
    ("x.T @ I @ x", {"I": "matrix n n"}), ("tr(X @ dX)", {"X": "matrix n n", "dX": "matrix n n"}),
    ("tr(X)", {"tr": "scalar"}), ("tr(X)", {"X": "spd n m"}), ("tr(X)", {"X": "matrix -1 n"}),
    ("tr(X)", {"X": "matrix 0 n"}), ("tr(X)", {"X": "scalar spd"}), ("tr(X)", {"X": ""}),
    ("tr(X)", {"X": "matrix " + "n" * 500}), ("tr(X)", {"X": 5}), ("tr(X)", {"X": None}),
    ("tr(X)", {"X": "matrix n n symmetric skew"}), ("tr(X)", {"X": "matrix n n spd spd spd"}),
    ("tr(X)", {"__class__": "scalar"}), ("tr(X)", {"1x": "scalar"}), ("tr(X)", {"x y": "scalar"}),
    ("tr(X)", {"X": "tensor n n n"}), ("tr(X)", {"X": "matrix n*m*k*l n"}), ("x.T @ x", {"x": "vector 10000"}),
    ("tr(X)", ["X"]), ("tr(X)", "X: matrix n n"), ("tr(X)", {"X": "matrix n n", "Y": "matrix n n"}),
    ("alpha * tr(X)", {"alpha": "vector n"}), ("tr(X)", {"X": "matrix n n\nspd"}),
]

RECORD = """\
- id: {id}
  title: Hostile
  kind: identity
  symbols: {{X: matrix n n}}
  lhs: X.T.T
  rhs: X
  tags: [transpose]
"""

# identity files: (name, text) written to a temporary folder (the malformed corpus is added too)
FILES = [
    ("recursive-alias.yaml", RECORD.format(id="a") + "  refs: &r [*r]\n"),
    ("alias-bomb.yaml", "\n".join(["- &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                                  + [f"- &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)])),
    ("deep.yaml", "- " + "[" * 20000 + "]" * 20000 + "\n"),
    ("deep-notes.yaml", RECORD.format(id="b") + "  notes: " + "[" * 3000 + "]" * 3000 + "\n"),
    ("octal.yaml", RECORD.format(id="c") + "  cookbook: 010\n"),
    ("sexagesimal.yaml", RECORD.format(id="d") + "  cookbook: 1:40\n"),
    ("pi.yaml", RECORD.format(id="e") + '  notes: "\\Pi and \\Lambda"\n'),
    ("frac.yaml", RECORD.format(id="f") + '  notes: "\\\\frac{1}{2}"\n'),
    ("nul.yaml", RECORD.format(id="g") + "  notes: a\0b\n"),
    ("binary.yaml", "\x89PNG\r\n\x1a\n" + "\xff" * 10),
    ("huge-line.yaml", RECORD.format(id="h") + "  notes: " + "x" * 200_000 + "\n"),
    ("many-records.yaml", "".join(RECORD.format(id=f"r{i}") for i in range(100))),
    ("huge-sizes.yaml", RECORD.format(id="i").replace("matrix n n", "matrix 9999 9999")),
    ("code.yaml", RECORD.format(id="j").replace("lhs: X.T.T", "lhs: __import__('os').system('true')")),
    ("python-tag.yaml", RECORD.format(id="k").replace("lhs: X.T.T", "lhs: !!python/object/apply:os.system ['true']")),
    ("empty.yaml", ""), ("only-comment.yaml", "# nothing\n"), ("scalar.yaml", "42\n"),
    ("tabs.yaml", RECORD.format(id="l").replace("  ", "\t")), ("crlf.yaml", RECORD.format(id="m").replace("\n", "\r\n")),
    ("bom.yaml", "\ufeff" + RECORD.format(id="n")), ("dupe.yaml", RECORD.format(id="o") * 2),
    ("stray.yml", RECORD.format(id="p")),
]


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


UNCLEAR = re.compile(r"BitXor|BitOr|NoneType|object has no attribute|not subscriptable|\bd\d+x|x d\d|\?\d|"
                     r"Expr\(|<matident\.|unterminated string|Perhaps you forgot|did you mean 'T'|"
                     r"hint: \)|name one of its symbols: \)")


def _clear(message):
    """'' if ``message`` (one error) is clear, else why not."""
    if "\n" in message.strip():
        return "more than one line"
    if UNCLEAR.search(message):
        return "leaks internals: " + UNCLEAR.search(message).group()
    return ""


def api(call):
    """Run an API call: (kind, detail) where kind is ok, refused, crash or unclear."""
    try:
        call()
        return "ok", ""
    except MatidentError as exc:
        errors = getattr(exc, "errors", None) or [exc]
        for err in errors:
            if not err.hint:
                return "unclear", f"no hint: {err}"
            why = _clear(str(err))
            if why:
                return "unclear", f"{why}: {err}"
        return "refused", str(errors[0])
    except _Hang:
        raise
    except Exception as exc:  # noqa: BLE001 - that is what is being counted
        return "crash", f"{type(exc).__name__}: {exc}"[:300]


def command(argv):
    """Run ``matident ARGV`` in this process: (kind, detail)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:
                code = exc.code
    except _Hang:
        raise
    except Exception as exc:  # noqa: BLE001
        return "crash", f"{type(exc).__name__}: {exc}"[:300]
    text = err.getvalue()
    if "Traceback" in text:
        return "traceback", text[-300:]
    if code not in (0, 1, 2) or "internal error" in text:
        return "crash", f"exit {code}: {text[-300:]}"
    for line in text.splitlines():
        argparse = re.match(r"matident: error: (argument |the following arguments are required|"
                            r"unrecognized arguments|invalid choice)", line)   # after the usage line
        if line.startswith("matident: error:") and not argparse \
                and "hint:" not in line and "no identity with id" not in line:
            return "unclear", f"no hint: {line}"
        why = _clear(line)
        if why:
            return "unclear", f"{why}: {line}"
    return ("ok" if code == 0 else "refused"), text.strip().splitlines()[-1] if text.strip() else ""


def cases(folder, quick=False):
    """(interface, label, thunk) for every run of the corpus."""
    exprs = EXPRESSIONS[::4] if quick else EXPRESSIONS
    decls = DECLARATIONS[::3] if quick else DECLARATIONS
    out = []
    for text in exprs:
        label = repr(text[:40])
        out += [("api parse", label, lambda t=text: matident.parse(t)),
                ("api latex", label, lambda t=text: matident.latex(t)),
                ("api lookup", label, lambda t=text: matident.lookup(t, limit=3)),
                ("cli lookup", label, lambda t=text: command(["lookup", t, "--limit", "3"]))]
        if not quick:
            out += [("api derive", label, lambda t=text: matident.derive(t, _variable(t))),
                    ("cli derive", label, lambda t=text: command(["derive", t, "--wrt", _variable(t)]))]
    for text, symbols in decls:
        label = f"{text[:30]!r} with {str(symbols)[:50]}"
        out += [("api lookup", label, lambda t=text, s=symbols: matident.lookup(t, symbols=s, limit=3)),
                ("api derive", label, lambda t=text, s=symbols: matident.derive(t, _variable(t), symbols=s))]
        if isinstance(symbols, dict) and all(isinstance(v, str) for v in symbols.values()):
            flags = [a for n, d in symbols.items() for a in ("--symbol", f"{n}={d}")]
            out += [("cli derive", label, lambda t=text, f=flags: command(["derive", t, "--wrt", _variable(t), *f])),
                    ("cli lookup", label, lambda t=text, f=flags: command(["lookup", t, "--limit", "3", *f]))]
    files = sorted(folder.iterdir())
    files += [] if quick else sorted((ROOT / "tests" / "malformed").glob("*.yaml"))
    files += [Path("/dev/zero"), Path("/dev/null"), folder / "no-such-file.yaml", folder]
    for path in files[::2] if quick else files:
        label = path.name or str(path)
        out += [("api load", label, lambda p=path: load(p)),
                ("cli verify", label, lambda p=path: command(["verify", "--trials", "1", str(p)]))]
    for argv in (["show", "no-such-id"], ["show", "../../etc/passwd"], ["show", "-x"], ["show", ""],
                 ["show", "trace-axb-derivative", "--seed", "-1"], ["show", "trace-axb-derivative", "--trials", "0"],
                 ["verify", "--seed", "99999999999999999999999"], ["verify", "--trials", "nan"],
                 ["lookup", "tr(X)", "--limit", "0"], ["lookup", "tr(X)", "--wrt", "Q"], ["derive", "tr(X)"],
                 ["derive", "tr(X)", "--wrt", "X", "--order", "3"], ["lookup"], [], ["bogus"]):
        out.append(("cli " + (argv[0] if argv else "(none)"), " ".join(argv) or "(no arguments)",
                    lambda a=argv: command(a)))
    for label, call in (("verify seed=-1", lambda: matident.verify(seed=-1)),
                        ("verify trials=0", lambda: matident.verify(trials=0)),
                        ("verify []", lambda: _require_not_ok(matident.verify([]))),
                        ("lookup limit=0", lambda: matident.lookup("tr(X)", limit=0)),
                        ("lookup limit='a'", lambda: matident.lookup("tr(X)", limit="a")),
                        ("lookup wrt=3", lambda: matident.lookup("tr(X)", wrt=3)),
                        ("derive order=5", lambda: matident.derive("tr(X)", "X", order=5)),
                        ("derive wrt=None", lambda: matident.derive("tr(X)", None)),
                        ("parse(None)", lambda: matident.parse(None)),
                        ("parse(b'X')", lambda: matident.parse(b"X")),
                        ("load(None)", lambda: load(None))):
        out.append(("api " + label.split()[0], label, call))
    return out


def _require_not_ok(report):
    if report.ok:
        raise AssertionError("verify([]) reported success")


def _variable(text):
    """A variable for derive: the last name in ``text`` that is not a function (else X)."""
    from matident.functions import FUNCTIONS
    names = [n for n in re.findall(r"\b([A-Za-z][A-Za-z0-9_]*)\b", text) if n not in FUNCTIONS and n != "I"]
    return names[-1] if names else "X"


def write_files(folder):
    for name, text in FILES:
        (folder / name).write_bytes(text.encode("utf-8", "surrogateescape"))


def run(quick=False, verbose=False):
    """Run the corpus; return (counts, offenders, number of runs, corpus sizes)."""
    counts = {"crash": 0, "traceback": 0, "unclear": 0, "hang": 0}
    offenders = []
    saved = os.environ.get("MATIDENT_CACHE_DIR")
    os.environ["MATIDENT_CACHE_DIR"] = "off"
    previous = signal.signal(signal.SIGALRM, _alarm)
    # warm up: the catalogue, the match index and SymPy load once per process (about 3 s, counted
    # against no input); the cache is off so that no file outside the temporary folder is read
    matident.parse("tr(X)")
    matident.lookup("tr(X)")
    matident.derive("tr(X)", "X")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "files"
        folder.mkdir()
        write_files(folder)
        runs = cases(folder, quick)
        times = []
        for interface, label, thunk in runs:
            start = time.perf_counter()
            signal.alarm(WATCHDOG_SECONDS)
            try:
                kind, detail = thunk() if interface.startswith("cli") else api(thunk)
            except _Hang:
                kind, detail = "hang", f"stopped after {WATCHDOG_SECONDS} s"
            finally:
                signal.alarm(0)
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            if kind != "hang" and elapsed > HANG_SECONDS:
                kind, detail = "hang", f"{elapsed:.1f} s"
            if kind in counts:
                counts[kind] += 1
                offenders.append((kind, interface, label, detail))
            if verbose:
                print(f"{elapsed:6.2f} s  {kind:9} {interface:12} {label[:60]}  {detail[:120]}")
    signal.signal(signal.SIGALRM, previous)
    if saved is None:
        os.environ.pop("MATIDENT_CACHE_DIR", None)
    else:
        os.environ["MATIDENT_CACHE_DIR"] = saved
    sizes = {"expressions": len(EXPRESSIONS), "declarations": len(DECLARATIONS),
             "files": len(FILES) + len(list((ROOT / "tests" / "malformed").glob("*.yaml"))) + 4}
    return counts, offenders, len(runs), sizes, times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the subset run in CI")
    parser.add_argument("--verbose", action="store_true", help="print every run")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts, offenders, runs, sizes, times = run(args.quick, args.verbose)
    elapsed = time.perf_counter() - start
    times.sort()
    print(f"corpus: {sizes['expressions']} expressions, {sizes['declarations']} declarations, "
          f"{sizes['files']} identity files and paths ({sum(sizes.values())} inputs)")
    print(f"{runs} runs through the CLI (lookup, derive, show, verify) and the API (parse, latex, lookup, "
          f"derive, load, verify) in {elapsed:.1f} s; median run {1000 * times[len(times) // 2]:.0f} ms, "
          f"slowest {times[-1]:.2f} s")
    print("crashes: {crash}, tracebacks: {traceback}, unclear messages: {unclear}, "
          "hangs (> {hang_s} s): {hang}".format(hang_s=HANG_SECONDS, **counts))
    for kind, interface, label, detail in offenders:
        print(f"  {kind}: {interface} {label}: {detail}")
    return 0 if not offenders else 1


if __name__ == "__main__":
    sys.exit(main())
