"""The ``matident`` command line.

Exit codes: 0 success (everything verified), 1 something false, inconclusive
or invalid, 2 usage error.  Errors are one clear line on stderr, never a
traceback.  Machine-readable output (``--json``) goes to stdout; human
output and the progress bar (on a terminal only) go to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import CatalogueError, MatidentError

DEFAULT_MAX_JOBS = 4     # verify's processes without --jobs: the usable CPUs, at most this many

EXAMPLES = """\
examples:
  matident lookup 'tr(A @ X @ B)' --wrt X  identities that apply, instantiated
  matident lookup 'inv(A + U @ C @ V)'     finds the Woodbury identity
  matident derive 'log(x.T @ A @ x)' --wrt x --symbol A='spd n'
                                           gradient step by step, checked numerically
  matident derive 'log(1 + exp(a.T @ x))' --wrt x --order 2     Hessian
  matident check 'x.T @ A @ x' --wrt x --claim '2 * A @ x'
                                           is my gradient right? names the slip if not
  matident verify                          verify the whole shipped catalogue
  matident verify my-identities.yaml --trials 10 --seed 7
  matident verify --json > report.json     machine-readable report
  matident show trace-axb-derivative       one record, its LaTeX and verification
  matident coverage --chapter 2            Cookbook equations -> records, or why not
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"matident: error: {message}\n")
        sys.exit(2)


def _progress(stream):
    if not stream.isatty():
        return None

    def show(done, total, result):
        width = 30
        filled = int(width * done / total)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {result.id[:40]:<40}")
        if done == total:
            stream.write("\r" + " " * (width + 60) + "\r")
        stream.flush()
    return show


def cmd_verify(args):
    from .catalogue import catalogue, load
    from .verify import Report, verify
    try:
        records = load(args.files) if args.files else catalogue()
        errors = []
    except CatalogueError as exc:
        records, errors = [], exc.errors
    report = verify(records, trials=args.trials, seed=args.seed, progress=_progress(sys.stderr),
                    jobs=args.jobs or default_jobs()) if records else Report([], args.seed, args.trials)
    report = Report(report.results, report.seed, report.trials, errors)
    for err in errors:
        print(str(err), file=sys.stderr)
    for result in report.results:
        if not result.ok:
            print(result.describe(), file=sys.stderr)
    if args.json:
        print(report.to_json())
    print(f"matident verify: {report}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_show(args):
    from .catalogue import catalogue
    from .verify import check_record
    cat = catalogue()
    try:
        rec = cat[args.id]
    except KeyError as exc:
        print(f"matident: error: {exc.args[0]}", file=sys.stderr)
        return 2
    result = check_record(rec, trials=args.trials, seed=args.seed)
    if args.json:
        print(json.dumps({**rec.data, "file": rec.file, "line": rec.line, "latex": rec.latex(),
                          "verification": result.__dict__}, indent=2, sort_keys=True))
        return 0 if result.ok else 1
    out = [f"{rec.id}: {rec.title}", f"  kind:       {rec.kind}", f"  source:     {rec.location}"]
    out.append("  symbols:    " + ", ".join(f"{n}: {d}" for n, d in rec.data["symbols"].items()))
    if rec.wrt:
        out.append(f"  wrt:        {', '.join(rec.wrts)}" + (f" (layout: {rec.layout})" if "layout" in rec.data else ""))
    out.append(f"  statement:  {rec}".replace(f"{rec.id}: ", "", 1))
    out.append(f"  latex:      {rec.latex()}")
    for c in rec.conditions:
        out.append(f"  condition:  {c}")
    if rec.cookbook:
        out.append("  cookbook:   eq. " + ", ".join(map(str, rec.cookbook)))
    for ref in rec.refs:
        out.append(f"  ref:        {ref}")
    out.append("  tags:       " + ", ".join(rec.tags))
    if rec.notes:
        out.append("  notes:      " + " ".join(rec.notes.split()))
    if rec.erratum:
        out.append(f"  erratum:    {rec.erratum['source']} prints {rec.erratum['printed']}: "
                   + " ".join(rec.erratum["explanation"].split()))
    out.append(f"  verified:   {result.describe().split(': ', 2)[-1]}")
    print("\n".join(out))
    return 0 if result.ok else 1


def build_parser():
    parser = _Parser(prog="matident", description="A verified database of matrix-calculus identities.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"matident {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("verify", help="verify identity files numerically",
                       description="Verify records on random structured instances.")
    p.add_argument("files", nargs="*", metavar="FILE", help="identity files (default: the shipped catalogue)")
    p.add_argument("--seed", type=seed_option, default=0, help="random seed (default 0)")
    p.add_argument("--trials", type=_positive, default=3, help="random instances per record (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    p.add_argument("--jobs", type=jobs_option, default=None,
                   help=f"processes sharing the records (default: the usable CPUs, at most "
                   f"{DEFAULT_MAX_JOBS}); the report is the same for any number")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("show", help="show one record, its LaTeX and its verification")
    p.add_argument("id", help="record id, e.g. trace-axb-derivative")
    p.add_argument("--seed", type=seed_option, default=0)
    p.add_argument("--trials", type=_positive, default=3)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


def symbol_option(text):
    """argparse type for ``--symbol NAME=DECL`` (e.g. ``A='spd n'``), the one parser of every command.

    Quotes around the declaration (``"S='spd n'"``, as a shell user may type) are dropped.
    """
    name, sep, decl = text.partition("=")
    name, decl = name.strip(), decl.strip().strip("'\"").strip()
    if not sep or not name or not decl:
        raise argparse.ArgumentTypeError(f"expected NAME=DECLARATION (e.g. A='matrix n n spd'), got {text!r}")
    from .parse import check_declared_names
    from .shapes import parse_decl
    try:
        check_declared_names({name: decl})
        parse_decl(decl)
    except MatidentError as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc.message}"
                                         + (f" (hint: {exc.hint})" if exc.hint else "")) from None
    return name, decl


def seed_option(text):
    """argparse type for ``--seed``: a whole number from 0 to 2**63-1."""
    from .verify import check_seed
    text = text.strip()          # " -1": marked by _expressions_kept
    try:
        return check_seed(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**63-1, got {text!r}") from None


def default_jobs():
    """``--jobs`` when not given: the CPUs this process may run on, at most DEFAULT_MAX_JOBS;
    1 when this process already runs threads of its own (the command called in-process by a
    program that started Python threads, JAX or PyTorch), which a fork would copy mid-step."""
    import sys
    import threading
    if threading.active_count() > 1 or any(m in sys.modules for m in ("jax", "torch")):
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:          # no sched_getaffinity (macOS)
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, DEFAULT_MAX_JOBS))


def jobs_option(text):
    """argparse type for ``--jobs``: a whole number from 1 to MAX_JOBS."""
    from .verify import MAX_JOBS
    text = text.strip()
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to {MAX_JOBS}, got {value}")
    return value


def positive_option(text):
    """argparse type for ``--limit``: a whole number of at least 1."""
    text = text.strip()
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _positive(text):
    text = text.strip()
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1 or value > 10_000:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 10000, got {value}")
    return value


def _version():
    from . import __version__
    return __version__


def _register_optional():
    """Commands contributed by other modules: each module exposes ``register(subparsers)``."""
    out = []
    for name in ("match", "derive", "claim", "coverage"):
        try:
            module = __import__(f"matident.{name}", fromlist=["register"])
        except ImportError:
            continue
        if hasattr(module, "register"):
            out.append(module.register)
    return out


_EXTRA_COMMANDS = []


# Commands build_parser defines itself: run as the first word, they need none of the modules of
# _register_optional (importing those costs as much time as verifying 40 records).
_BUILTIN_COMMANDS = ("verify", "show")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    _EXTRA_COMMANDS[:] = [] if argv[:1] and argv[0] in _BUILTIN_COMMANDS else _register_optional()
    parser = build_parser()
    args = parser.parse_args(_expressions_kept(argv))
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    for name, value in vars(args).items():       # undo the marks of _expressions_kept
        if isinstance(value, str) and value.startswith(" -"):
            setattr(args, name, value[1:])
        elif isinstance(value, list):
            setattr(args, name, [v[1:] if isinstance(v, str) and v.startswith(" -") else v for v in value])
    try:
        return args.func(args)
    except CatalogueError as exc:
        print(f"matident: error: {exc}", file=sys.stderr)
        return 1
    except MatidentError as exc:     # bad input on the command line
        print(f"matident: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("matident: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:              # e.g. `matident lookup ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (MemoryError, RecursionError) as exc:
        print(f"matident: error: the input is too large to handle ({type(exc).__name__})",
              file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug: one line, not a traceback (MATIDENT_DEBUG=1 shows it)
        if os.environ.get("MATIDENT_DEBUG"):
            raise
        print(f"matident: internal error: {type(exc).__name__}: {str(exc)[:200]} (please report it "
              "with the command line; MATIDENT_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 3


def _expressions_kept(argv):
    """Arguments with an expression that starts with a minus (``-tr(X)``, ``-2 * x.T @ y``)
    marked as a value: argparse would read it as an unknown option.

    Every option of matident is long (``--wrt``) except ``-h``; a word that starts with a single
    minus and is not ``-h`` can only be an expression (or a negative number), so a leading space
    keeps argparse from reading it as an option; commands strip it.
    """
    return [f" {a}" if a.startswith("-") and not a.startswith("--") and a != "-" and a != "-h"
            else a for a in argv]
