"""Copy the top-level identities/ and schema/ into the wheel as matident/data/.

The YAML catalogue and its JSON Schema live at the top of the repository (one
source of truth for the package, the docs and contributors); this hook ships
them inside the package so a plain, non-editable ``pip install .`` finds them.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent


class BuildWithData(build_py):
    """build_py that starts from an empty build/lib/matident, then copies the data.

    setuptools reuses an existing build/ folder and only adds to it: a module or
    identity file renamed or removed since the last build would otherwise ship
    too (two copies of a record: every command fails with a duplicate id).
    Emptying the package's build folder first makes ``pip install .`` give the
    same package from any checkout state.
    """

    def run(self):
        stale = Path(self.build_lib) / "matident"
        if stale.exists():
            shutil.rmtree(stale)
        super().run()
        target = Path(self.build_lib) / "matident" / "data"
        for name, pattern in (("identities", "**/*.yaml"), ("schema", "*.json")):
            for src in sorted((ROOT / name).glob(pattern)):
                dest = target / name / src.relative_to(ROOT / name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)


setup(cmdclass={"build_py": BuildWithData})
