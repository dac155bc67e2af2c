"""A disk cache for what is slow to rebuild from the YAML (the catalogue, the match index).

Entries are pickles in ``$MATIDENT_CACHE_DIR`` (else ``$XDG_CACHE_HOME/matident``,
else ``~/.cache/matident``; ``MATIDENT_CACHE_DIR=off`` disables caching), keyed
by a hash of the identity files and of the modules whose classes are pickled,
so any edit to either rebuilds the entry.  The directory is created with mode
0700; as with any pickle, point ``MATIDENT_CACHE_DIR`` only at a directory that
no one else can write.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def cache_dir():
    """The cache directory, or None when caching is off."""
    where = os.environ.get("MATIDENT_CACHE_DIR")
    if where:
        return None if where.lower() in ("off", "0", "none") else Path(where)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "matident"


def fingerprint(tag, files, modules):
    """A hash of ``tag``, the package ``modules`` (file names) and the data ``files``."""
    h = hashlib.sha256(tag.encode())
    for name in modules:
        h.update((PACKAGE / name).read_bytes())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def load_or_build(kind, key, build):
    """The cached object ``kind``-``key``, or ``build()`` (then cached)."""
    where = cache_dir()
    path = where / f"{kind}-{key}.pickle" if where else None
    if path is not None and path.is_file():
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except Exception:  # noqa: BLE001 - a stale or broken cache entry is rebuilt
            pass
    value = build()
    if path is not None:
        _write(path, kind, value)
    return value


def _write(path, kind, value):
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in path.parent.glob(f"{kind}-*.pickle"):
            old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass                                  # a read-only home: work without the cache
