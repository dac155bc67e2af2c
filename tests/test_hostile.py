"""The fast subset of benchmarks/hostile.py: hostile expressions, declarations and identity
files through the CLI and the API give no crash, traceback or unclear message.

(The benchmark also reports runs slower than 2 s; a test does not time, so here a
watchdog only stops a run that does not end.)
"""
import importlib.util

from conftest import ROOT


def _harness():
    spec = importlib.util.spec_from_file_location("hostile", ROOT / "benchmarks" / "hostile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_is_large_enough():
    hostile = _harness()
    assert len(hostile.EXPRESSIONS) + len(hostile.DECLARATIONS) + len(hostile.FILES) >= 100


def test_hostile_subset_gives_clear_refusals_only(monkeypatch):
    hostile = _harness()
    monkeypatch.setattr(hostile, "HANG_SECONDS", float("inf"))      # timing is the benchmark's
    monkeypatch.setattr(hostile, "WATCHDOG_SECONDS", 300)            # only a run that never ends
    counts, offenders, runs, _, _ = hostile.run(quick=True)
    assert runs >= 200
    assert not offenders, "\n".join(map(str, offenders))
