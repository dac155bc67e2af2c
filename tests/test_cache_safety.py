"""The disk cache never runs code another user could have planted, and never litters.

Issue 14: a pickle planted under the predictable name in a folder others can
write ran as whoever used matident next.  Entries are read only from a folder
and a file that belong to the current user and that no one else may write.
"""
import os
import pickle
import subprocess
import sys

import pytest

from conftest import ROOT

from matident import cache
from matident.catalogue import Catalogue, _CACHED_MODULES, catalogue_inputs


class _Payload:
    """Unpickling this creates the file ``marker`` (stands for arbitrary code)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _key():
    return cache.fingerprint("matident-catalogue-2", catalogue_inputs(), _CACHED_MODULES)


def _run(env, *args, cwd=ROOT):
    env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "matident", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def _plant(folder, marker):
    folder.mkdir(exist_ok=True)
    path = folder / f"catalogue-{_key()}.pickle"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    return path


def test_payload_in_a_folder_others_can_write_does_not_run(tmp_path):
    shared = tmp_path / "shared"
    marker = tmp_path / "PWNED"
    entry = _plant(shared, marker)
    os.chmod(shared, 0o777)                  # a world-writable cache folder
    os.chmod(entry, 0o644)
    proc = _run({"MATIDENT_CACHE_DIR": str(shared), "PYTHONPATH": str(ROOT)}, "lookup", "tr(X)", "--limit", "1")
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), "the planted pickle ran"
    assert "Traceback" not in proc.stderr


def test_payload_writable_by_others_in_a_private_folder_does_not_run(tmp_path):
    folder = tmp_path / "mine"
    marker = tmp_path / "PWNED"
    entry = _plant(folder, marker)
    os.chmod(folder, 0o700)
    os.chmod(entry, 0o666)                   # anyone may have rewritten it
    proc = _run({"MATIDENT_CACHE_DIR": str(folder), "PYTHONPATH": str(ROOT)}, "lookup", "tr(X)", "--limit", "1")
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="planting a file owned by another user needs root")
def test_payload_owned_by_another_user_does_not_run(tmp_path):
    folder = tmp_path / "theirs"
    marker = tmp_path / "PWNED"
    entry = _plant(folder, marker)
    os.chmod(folder, 0o755)
    os.chmod(entry, 0o644)
    os.chown(entry, 65534, 65534)            # nobody's file in our folder
    proc = _run({"MATIDENT_CACHE_DIR": str(folder), "PYTHONPATH": str(ROOT)}, "lookup", "tr(X)", "--limit", "1")
    assert proc.returncode == 0 and not marker.exists()
    os.chown(entry, 0, 0)
    os.chown(folder, 65534, 65534)           # our file in nobody's folder
    proc = _run({"MATIDENT_CACHE_DIR": str(folder), "PYTHONPATH": str(ROOT)}, "lookup", "tr(X)", "--limit", "1")
    assert proc.returncode == 0 and not marker.exists()


def test_a_private_entry_of_the_wrong_type_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("MATIDENT_CACHE_DIR", str(tmp_path))
    (tmp_path / "catalogue-k.pickle").write_bytes(pickle.dumps({"not": "a catalogue"}))
    os.chmod(tmp_path, 0o700)
    built = Catalogue([])
    assert cache.load_or_build("catalogue", "k", lambda: built, Catalogue) is built
    assert isinstance(cache.load_or_build("catalogue", "k", lambda: None, Catalogue), Catalogue)


def test_one_entry_per_key_two_checkouts_keep_theirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MATIDENT_CACHE_DIR", str(tmp_path / "c"))
    for key in ("checkout-a", "checkout-b", "checkout-a", "checkout-b"):
        cache.load_or_build("catalogue", key, lambda: Catalogue([]), Catalogue)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "catalogue-checkout-a.pickle", "catalogue-checkout-b.pickle"]
    calls = []
    cache.load_or_build("catalogue", "checkout-a", lambda: calls.append(1) or Catalogue([]), Catalogue)
    assert not calls, "a's entry was evicted by b's"


def test_the_schema_is_part_of_the_key():
    assert any(f.name == "identity.schema.json" for f in catalogue_inputs())


@pytest.mark.parametrize("env", [
    {"XDG_CACHE_HOME": "relative/cache", "MATIDENT_CACHE_DIR": None},
    {"MATIDENT_CACHE_DIR": "false"},
    {"MATIDENT_CACHE_DIR": "relative"},
    {"HOME": "", "XDG_CACHE_HOME": None, "MATIDENT_CACHE_DIR": None},
    {"HOME": None, "XDG_CACHE_HOME": None, "MATIDENT_CACHE_DIR": None},
    {"HOME": "/", "XDG_CACHE_HOME": None, "MATIDENT_CACHE_DIR": None},
    {"HOME": "/nonexistent/home", "XDG_CACHE_HOME": None, "MATIDENT_CACHE_DIR": None},
], ids=["relative-xdg", "cache-false", "relative-cache-dir", "empty-home", "no-home", "home-root",
        "missing-home"])
def test_no_folder_is_created_in_cwd_or_root(tmp_path, env):
    work = tmp_path / "cwd"
    work.mkdir()
    before = set(os.listdir("/"))
    proc = _run({**env, "PYTHONPATH": str(ROOT)}, "lookup", "tr(X)", "--limit", "1", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert list(work.iterdir()) == []
    assert set(os.listdir("/")) == before
    assert not os.path.exists("/nonexistent")


def test_cache_dir_rules(monkeypatch, tmp_path):
    monkeypatch.setenv("MATIDENT_CACHE_DIR", "OFF")
    assert cache.cache_dir() is None
    monkeypatch.setenv("MATIDENT_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "matident"
    monkeypatch.setenv("XDG_CACHE_HOME", "rel")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / ".cache" / "matident"
    monkeypatch.setenv("HOME", "")
    assert cache.cache_dir() is None
