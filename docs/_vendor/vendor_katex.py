"""Vendor KaTeX (pinned in docs/package.json) into the docs tree.

The docs render math at build time (node + katex.min.js) and the pages load
only KaTeX's stylesheet and fonts, from the site itself.  All of it comes from
one npm release, copied byte for byte:

    docs/_vendor/katex/katex.min.js        used by node while building (not published)
    docs/_static/katex/katex.min.css       published with the site (woff2 fonts only, see below)
    docs/_static/katex/fonts/*.woff2       published with the site
    docs/_static/katex/contrib/copy-tex.min.js   copying a formula copies its LaTeX

Every browser that runs the site reads woff2, so the .woff and .ttf copies of
the fonts are not published and the stylesheet names only the woff2 files
(``woff2_only``); everything else is byte for byte.  The files are committed, so building the docs needs node but neither npm nor the
network.  To move to another KaTeX release: edit the version in
docs/package.json, then from docs/ run::

    npm install            # updates package-lock.json and node_modules/
    python _vendor/vendor_katex.py

and commit the changed files.  ``python _vendor/vendor_katex.py --check``
(after ``npm ci``) verifies that the committed copies equal the npm package.
"""
from __future__ import annotations

import filecmp
import json
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
PACKAGE = DOCS / "node_modules" / "katex"

# (source inside the npm package, destination inside docs/)
FILES = [
    ("LICENSE", "_vendor/katex/LICENSE"),
    ("dist/katex.min.js", "_vendor/katex/katex.min.js"),
    ("LICENSE", "_static/katex/LICENSE"),
    ("dist/katex.min.css", "_static/katex/katex.min.css"),
    ("dist/contrib/copy-tex.min.js", "_static/katex/contrib/copy-tex.min.js"),
]
FONT_DIR = ("dist/fonts", "_static/katex/fonts")
CSS = "_static/katex/katex.min.css"
_OTHER_FORMATS = re.compile(r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)')


def woff2_only(css):
    """KaTeX's stylesheet with each @font-face naming only its woff2 file."""
    return _OTHER_FORMATS.sub("", css)


def planned():
    pairs = [(PACKAGE / src, DOCS / dst) for src, dst in FILES]
    src_dir, dst_dir = PACKAGE / FONT_DIR[0], DOCS / FONT_DIR[1]
    pairs += [(f, dst_dir / f.name) for f in sorted(src_dir.iterdir()) if f.suffix == ".woff2"]
    return pairs


def same(src, dst):
    if dst == DOCS / CSS:
        return dst.is_file() and dst.read_text(encoding="utf-8") == woff2_only(src.read_text(encoding="utf-8"))
    return dst.is_file() and filecmp.cmp(src, dst, shallow=False)


def main(argv):
    check = "--check" in argv
    wanted = json.loads((DOCS / "package.json").read_text())["devDependencies"]["katex"]
    if not PACKAGE.is_dir():
        sys.exit(f"{PACKAGE} is missing: run 'npm ci' in {DOCS} first")
    have = json.loads((PACKAGE / "package.json").read_text())["version"]
    if have != wanted:
        sys.exit(f"node_modules has katex {have} but package.json pins {wanted}: run 'npm ci'")
    pairs = planned()
    if check:
        bad = [str(dst.relative_to(DOCS)) for src, dst in pairs if not same(src, dst)]
        fonts = DOCS / FONT_DIR[1]
        extra = sorted({p.name for p in fonts.iterdir()} - {s.name for s, _ in pairs}) if fonts.is_dir() else []
        if bad or extra:
            sys.exit("vendored KaTeX differs from katex " + wanted + ": "
                     + ", ".join(bad + [f"extra {e}" for e in extra]))
        print(f"vendored KaTeX matches katex {wanted} ({len(pairs)} files)")
        return
    shutil.rmtree(DOCS / FONT_DIR[1], ignore_errors=True)
    for src, dst in pairs:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst == DOCS / CSS:
            dst.write_text(woff2_only(src.read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copyfile(src, dst)
    print(f"vendored katex {wanted}: {len(pairs)} files")


if __name__ == "__main__":
    main(sys.argv[1:])
