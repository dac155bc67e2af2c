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
    def run(self):
        super().run()
        target = Path(self.build_lib) / "matident" / "data"
        for name, pattern in (("identities", "**/*.yaml"), ("schema", "*.json")):
            for src in sorted((ROOT / name).glob(pattern)):
                dest = target / name / src.relative_to(ROOT / name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)


setup(cmdclass={"build_py": BuildWithData})
