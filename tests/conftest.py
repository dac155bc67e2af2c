"""Shared fixtures: the repository root, a tiny YAML writer, the docs site built once."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def build_site(out, doctrees=None):
    """``sphinx-build -W -b html docs OUT``; returns OUT.  Fails with the build log."""
    try:
        import sphinx  # noqa: F401 - only to give a clear message when it is missing
    except ImportError:
        pytest.fail("Sphinx is not installed: pip install -e '.[docs]'")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--no-color", "--keep-going", "-q", "-b", "html",
           *(["-d", str(doctrees)] if doctrees else []), str(DOCS), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return Path(out)


@pytest.fixture(scope="session")
def docs_build(tmp_path_factory):
    """The documentation site, built once per test session: (html folder, doctree folder)."""
    root = tmp_path_factory.mktemp("docs")
    return build_site(root / "html", doctrees=root / "doctrees"), root / "doctrees"


@pytest.fixture
def write_yaml(tmp_path):
    """Write text to a YAML file in tmp_path and return its path."""
    def write(text, name="records.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write
