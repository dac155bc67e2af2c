"""A disk cache for what is slow to rebuild from the YAML (the catalogue, the match index).

Entries are pickles in ``$MATIDENT_CACHE_DIR`` (else ``$XDG_CACHE_HOME/matident``,
else ``~/.cache/matident``), one file per key, keyed by a hash of the identity
files, the schema and the modules whose classes are pickled, so any edit to
one of them makes a new entry; the least recently used entries beyond
:data:`KEEP` of a kind are removed (two checkouts sharing the folder do not
evict each other).

Unpickling runs code chosen by whoever wrote the file, so an entry is read only
if it and its folder belong to the current user and no one else may write
them; anything else is ignored (rebuilt in memory, never read).  An entry of
the wrong type is ignored too.  Caching is off, silently, when
``MATIDENT_CACHE_DIR`` is ``off``/``false``/``0``/``no``/``none``, when the
folder would be relative (it would land in the current directory) or when there
is no usable home directory: matident then works without the cache.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import stat
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
KEEP = 8                      # entries of one kind kept (the most recently used)
_OFF = {"off", "0", "no", "none", "false", "disable", "disabled"}


def cache_dir():
    """The cache directory, or None when caching is off or has no safe place."""
    where = os.environ.get("MATIDENT_CACHE_DIR", "").strip()
    if where:
        if where.lower() in _OFF:
            return None
        return Path(where) if os.path.isabs(where) else None
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):          # the XDG spec: a relative path is ignored
        return Path(xdg) / "matident"
    home = _home()
    return None if home is None else home / ".cache" / "matident"


def _home():
    """The user's home directory if it is a real, absolute folder other than /, else None."""
    home = os.environ.get("HOME")
    if home is None:
        try:
            import pwd
            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):
            return None
    if not home or not os.path.isabs(home) or os.path.realpath(home) == "/" or not os.path.isdir(home):
        return None
    return Path(home)


def fingerprint(tag, files, modules):
    """A hash of ``tag``, the package ``modules`` (file names) and the data ``files``."""
    h = hashlib.sha256(tag.encode())
    for name in modules:
        h.update((PACKAGE / name).read_bytes())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def load_or_build(kind, key, build, expected=object):
    """The cached object ``kind``-``key`` if it is an ``expected``, else ``build()`` (then cached)."""
    where = cache_dir()
    path = where / f"{kind}-{key}.pickle" if where else None
    if path is not None:
        value = _read(path, expected)
        if value is not None:
            return value
    value = build()
    if path is not None:
        _write(path, kind, value)
    return value


def private(info):
    """True if the stat result ``info`` belongs to this user and no one else may write it."""
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(path, expected):
    """The entry at ``path``, or None if it is missing, foreign, writable by others, broken or
    not an ``expected``."""
    try:
        if not private(os.stat(path.parent)):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not private(info):
            return None
        try:
            value = pickle.load(fh)
        except Exception:  # noqa: BLE001 - a stale or broken entry of our own is rebuilt
            return None
    if not isinstance(value, expected):
        return None
    try:
        os.utime(path)                 # most recently used: kept by the eviction below
    except OSError:
        pass
    return value


def _ensure_dir(folder):
    """Create ``folder`` (and at most its parent) with mode 0700; True if it is ours and private."""
    try:
        if not folder.exists():
            if not folder.parent.exists():
                if not folder.parent.parent.is_dir():
                    return False          # never build a chain of folders from a mistyped path
                folder.parent.mkdir(mode=0o700)
            folder.mkdir(mode=0o700)
        return folder.is_dir() and private(os.stat(folder))
    except OSError:
        return False


def _write(path, kind, value):
    if not _ensure_dir(path.parent):
        return                                # a foreign or shared folder: work without the cache
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{kind}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        entries = sorted(path.parent.glob(f"{kind}-*.pickle"), key=_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        pass                                  # a read-only home: work without the cache


def _mtime(path):
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
