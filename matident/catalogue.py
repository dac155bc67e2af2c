"""Loading identity records from YAML, with every problem reported at once.

Files are read with PyYAML's *safe* composer; records are checked against
``schema/identity.schema.json`` and then semantically (expressions parse,
symbols are declared, shapes agree, ``wrt`` is a symbol).  Problems are
collected over all files and raised together as one
:class:`~matident.errors.CatalogueError`, each with ``file:line:column``,
the record id, a stable code and a hint.  Nothing is loaded half-way.
"""
from __future__ import annotations

import difflib
import functools
import json
import os
import re
from pathlib import Path

from .errors import CatalogueError, MatidentError
from .shapes import Decl, Prod, fmt_shape, infer, is_scalar_shape, parse_decl, sized_parts

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name):
    """The shipped ``identities`` or ``schema`` folder (wheel or checkout)."""
    for base in (PACKAGE_DIR / "data", PACKAGE_DIR.parent):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"cannot find the {name}/ folder of matident")


@functools.lru_cache(maxsize=1)
def schema():
    with open(data_dir("schema") / "identity.schema.json", encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=1)
def _validator():
    """A validator for one record (the file schema's ``$defs/record``)."""
    full = schema()
    record_schema = {"$schema": full["$schema"], "$defs": full["$defs"], "$ref": "#/$defs/record"}
    import jsonschema
    cls = jsonschema.validators.validator_for(full)
    cls.check_schema(full)
    return cls(record_schema)


# -- records ----------------------------------------------------------------

class Record:
    """One identity record: its fields as attributes, parsed sides, source."""

    __slots__ = ("id", "title", "kind", "relation", "symbols", "wrt", "layout", "lhs_text", "rhs_text",
                 "lhs_expr", "rhs_expr", "lhs_shape", "wrts", "conditions", "cookbook", "refs", "tags",
                 "notes", "erratum", "file", "line", "data", "_sized", "_sympy")

    def __init__(self, data, symbols, lhs, rhs, lhs_shape, file, line):
        self.data = data
        self.id = data["id"]
        self.title = data["title"]
        self.kind = data["kind"]
        self.relation = data.get("relation", "=")     # "<=", ">=", "<", ">" for an inequality
        self.symbols = symbols
        wrt = data.get("wrt")
        self.wrts = tuple(wrt) if isinstance(wrt, list) else ((wrt,) if wrt else ())
        self.wrt = self.wrts[0] if self.wrts else None
        self.layout = data.get("layout", "numerator")
        self.lhs_text = data["lhs"]
        self.rhs_text = data["rhs"]
        self.lhs_expr = lhs
        self.rhs_expr = rhs
        self.lhs_shape = lhs_shape
        self.conditions = tuple(data.get("conditions", ()))
        cb = data.get("cookbook", ())
        self.cookbook = tuple(cb) if isinstance(cb, list) else ((cb,) if cb else ())
        self.refs = tuple(data.get("refs", ()))
        self.tags = tuple(data.get("tags", ()))
        self.notes = data.get("notes", "")
        self.erratum = data.get("erratum")
        self.file = str(file)
        self.line = line
        self._sized = (lhs, rhs, symbols, sized_parts((lhs, rhs), symbols))   # pickled with the record
        self._sympy = None

    @property
    def location(self):
        return f"{self.file}:{self.line}"

    @property
    def sized_parts(self):
        """:func:`matident.shapes.sized_parts` of the two sides (what the verifier's size limits
        read): computed when the record is built, so a catalogue from the disk cache has them."""
        lhs, rhs, symbols, parts = self._sized
        if lhs is self.lhs_expr and rhs is self.rhs_expr and symbols is self.symbols:
            return parts
        return sized_parts((self.lhs_expr, self.rhs_expr), self.symbols)     # sides set on a copy

    @property
    def differentials(self):
        """Names of the differentials ``d<wrt>`` of a differential record."""
        return tuple(f"d{w}" for w in self.wrts) if self.kind == "differential" else ()

    @property
    def variables(self):
        """Symbols of the record other than the differentials."""
        return {n: d for n, d in self.symbols.items() if n not in self.differentials}

    def _sympy_sides(self):
        if self._sympy is None:
            from .sympy_bridge import to_sympy
            self._sympy = (to_sympy(self.lhs_expr, self.symbols), to_sympy(self.rhs_expr, self.symbols))
        return self._sympy

    @property
    def lhs(self):
        """The left-hand side as a SymPy expression."""
        return self._sympy_sides()[0]

    @property
    def rhs(self):
        """The right-hand side as a SymPy expression."""
        return self._sympy_sides()[1]

    def latex(self):
        """The statement in LaTeX, in the Cookbook's notation."""
        from .printing import latex_name, to_latex
        lhs = to_latex(self.lhs_expr, self.symbols)
        rhs = to_latex(self.rhs_expr, self.symbols)
        if self.kind == "identity":
            return f"{lhs} = {rhs}"
        if self.kind == "inequality":
            return f"{lhs} {RELATION_LATEX[self.relation]} {rhs}"
        wrt = ", ".join(latex_name(w) for w in self.wrts)
        if self.kind == "derivative":
            if self.lhs_shape != (1, 1) and self.symbols[self.wrt].kind == "vector":
                den = wrt + "^{T}" if self.layout == "numerator" else wrt
                num = lhs if self.layout == "numerator" else rf"\left({lhs}\right)^{{T}}"
                return rf"\frac{{\partial {_group(num)}}}{{\partial {den}}} = {rhs}"
            return rf"\frac{{\partial}}{{\partial {wrt}}} {_group(lhs)} = {rhs}"
        return rf"\mathrm{{d}}{_group(lhs)} = {rhs}"

    def __repr__(self):
        return f"<Record {self.id} ({self.kind}) at {self.location}>"

    def __str__(self):
        if self.kind in ("identity", "inequality"):
            return f"{self.id}: {self.lhs_text} {self.relation} {self.rhs_text}"
        if self.kind == "derivative":
            return f"{self.id}: d/d{self.wrt} [{self.lhs_text}] = {self.rhs_text}"
        return f"{self.id}: d({self.lhs_text}) = {self.rhs_text}"


#: LaTeX of an inequality record's relation
RELATION_LATEX = {"<=": r"\le", ">=": r"\ge", "<": "<", ">": ">", "=": "="}


def _group(text):
    return text if re.fullmatch(r"[A-Za-z\\{}_0-9^]+", text) else rf"\left({text}\right)"


class Catalogue:
    """An ordered collection of records, addressable by id."""

    def __init__(self, records):
        self.records = list(records)
        self.by_id = {r.id: r for r in self.records}

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.records[key]
        try:
            return self.by_id[key]
        except KeyError:
            close = difflib.get_close_matches(str(key), list(self.by_id), n=3)
            raise KeyError(f"no identity with id {key!r}"
                           + (f"; did you mean {', '.join(close)}?" if close else "")) from None

    def __contains__(self, key):
        return key in self.by_id

    def filter(self, *, kind=None, tag=None, cookbook=None, file=None):
        """Records matching all the given criteria, as a new catalogue."""
        out = self.records
        if kind is not None:
            out = [r for r in out if r.kind == kind]
        if tag is not None:
            out = [r for r in out if tag in r.tags]
        if cookbook is not None:
            out = [r for r in out if int(cookbook) in r.cookbook]
        if file is not None:
            out = [r for r in out if Path(r.file).name == Path(file).name or r.file == str(file)]
        return Catalogue(out)

    @property
    def files(self):
        return sorted({r.file for r in self.records})

    def __repr__(self):
        return f"<Catalogue of {len(self)} records>"


# -- YAML with positions ------------------------------------------------------

_BOOL_TRAPS = {"yes", "no", "on", "off", "y", "n"}
_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)\Z")
_LATEX_COMMAND = re.compile(r"\\([A-Za-z]{2,})")
# what YAML makes of a one-letter escape in a double-quoted string
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f",
            "r": "\r", "e": "\x1b", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
            " ": " ", "\t": "\t"}
_PLAIN_TEXT_HINT = ("text fields are plain text, shown and searched as written (no LaTeX): write "
                    "formulas in the expression language, e.g. inv(X) @ A or 1/2, or in words")
MAX_YAML_DEPTH = 20                # nesting of lists and mappings (a record needs 4)
MAX_FILE_BYTES = 4 * 1024 * 1024   # an identity file is a few kB; refuse to read more than this
_YAML_TYPES = {"object": "a mapping", "array": "a list", "string": "text", "integer": "an integer"}
_FLOATISH = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)\Z")


class _Problems:
    def __init__(self):
        self.items = []

    def add(self, code, message, file, mark=None, record=None, hint=None, line=None, column=None):
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
        self.items.append(MatidentError(message, code=code, file=file, line=line, column=column,
                                        record=record, hint=hint))


def _with_buffer(node, text, starts):
    """Give libyaml's marks (which carry no buffer) the source text, like PyYAML's."""
    import yaml
    for attr in ("start_mark", "end_mark"):
        m = getattr(node, attr)
        if m is not None and m.buffer is None:
            index = starts[m.line] + m.column if m.line < len(starts) else len(text)
            setattr(node, attr, yaml.Mark(m.name, index, m.line, m.column, text, index))


def _construct(loader, node, problems, file, text, starts):
    """Node -> (python value, positions) where positions maps paths to marks."""
    import yaml
    marks = {}

    def go(n, path):
        _with_buffer(n, text, starts)
        marks[path] = n.start_mark
        if isinstance(n, yaml.MappingNode):
            out, seen = {}, {}
            for key_node, value_node in n.value:
                _with_buffer(key_node, text, starts)
                key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    problems.add("MI022", f"keys must be text, got {key!r}", file, key_node.start_mark,
                                 hint="field names are words such as 'lhs'; quote other keys")
                    continue
                if key in seen:
                    problems.add("MI021", f"duplicate key '{key}' (first at line {seen[key].line + 1})",
                                 file, key_node.start_mark, hint="YAML keeps only the last value; "
                                 "remove or rename one of them")
                    continue
                seen[key] = key_node.start_mark
                marks[path + (key, "__key__")] = key_node.start_mark
                out[key] = go(value_node, path + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [go(v, path + (i,)) for i, v in enumerate(n.value)]
        value = loader.construct_object(n)
        if n.tag.endswith(":bool") and not n.style and n.value.lower() in _BOOL_TRAPS:
            problems.add("MI024", f"'{n.value}' is read as the boolean {value} by YAML 1.1",
                         file, n.start_mark, hint=f"quote it: '{n.value}'")
        elif not n.style and n.tag.rsplit(":", 1)[-1] in ("int", "float", "timestamp"):
            _number_trap(n, value, problems, file)
        if isinstance(value, str):
            _text_traps(n, value, path, problems, file)
        return value
    return go(node, ()), marks


def _number_trap(node, value, problems, file):
    """YAML 1.1 reads 010 as 8, 1:40 as 100, 1_000 as 1000, 0x10 as 16 and 2001-12-14 as a date."""
    raw = node.value
    tag = node.tag.rsplit(":", 1)[-1]
    if tag == "timestamp":
        problems.add("MI024", f"'{raw}' is read as a date by YAML 1.1, not as text", file,
                     node.start_mark, hint=f"quote it: '{raw}'")
        return
    if tag == "int" and _PLAIN_INT.match(raw):
        return
    if tag == "float" and ":" not in raw and "_" not in raw:
        return
    digits = raw.lstrip("+-")
    if ":" in raw:
        why, fix = "base 60", f"quote it: '{raw}'"
    elif "_" in raw:
        why, fix = "underscores are dropped", f"write {raw.replace('_', '')}, or quote it: '{raw}'"
    elif digits[:2].lower() in ("0x", "0o", "0b"):
        why, fix = {"0x": "hexadecimal", "0o": "octal", "0b": "binary"}[digits[:2].lower()], \
            f"write the decimal number {value}, or quote it: '{raw}'"
    else:
        why, fix = "octal", f"write {raw[0] if raw[0] in '+-' else ''}{digits.lstrip('0') or '0'}, " \
            f"or quote it: '{raw}'"
    problems.add("MI024", f"'{raw}' is read as the number {value} by YAML 1.1 ({why})", file,
                 node.start_mark, hint=fix)


def _text_traps(node, value, path, problems, file):
    """One rule for backslashes in text: no LaTeX, and no escape YAML turns into a control character.

    A LaTeX command is reported however it is quoted (``'\\frac'``, ``"\\\\frac"``, or
    ``"\\frac"``, where YAML also turns ``\\f`` into a form feed): text fields are shown and
    indexed for search as written, so LaTeX there would be shown raw and pollute the search.
    """
    field = ".".join(str(p) for p in path) or "value"
    raw = ""
    if node.style == '"' and node.start_mark.buffer:
        raw = node.start_mark.buffer[node.start_mark.index + 1:node.end_mark.index - 1]
    if raw:
        i = 0
        while i < len(raw) - 1:
            if raw[i] != "\\":
                i += 1
                continue
            c = raw[i + 1]
            command = _LATEX_COMMAND.match(raw, i)
            made = _ESCAPES.get(c)
            if command and made is not None:
                problems.add("MI024", f"{field}: LaTeX command '{command.group()}' in text (in double "
                             f"quotes YAML also turns '\\{c}' into {_describe_char(made)})", file,
                             node.start_mark, hint=_PLAIN_TEXT_HINT)
                return
            if made is not None and (not made.isprintable() or made.isspace()) and made != " ":
                problems.add("MI024", f"{field}: in a double-quoted string '\\{c}' is an escape: YAML "
                             f"turns it into {_describe_char(made)}", file, node.start_mark,
                             hint="remove it, or write \\\\ for a backslash")
                return
            i += 2
    command = _LATEX_COMMAND.search(value)
    if command:
        problems.add("MI024", f"{field}: LaTeX command '{command.group()}' in text", file,
                     node.start_mark, hint=_PLAIN_TEXT_HINT)
        return
    bad = next((ch for ch in value if ch in "\u2028\u2029\x85" or (ord(ch) < 32 and ch not in "\n\t")),
               None)
    if bad is not None:
        problems.add("MI024", f"{field}: text contains {_describe_char(bad)}", file, node.start_mark,
                     hint="remove it; in double quotes write \\\\ for a backslash")


def _describe_char(ch):
    import unicodedata
    name = {"\n": "a line break", "\t": "a tab", "\f": "a form feed", "\r": "a carriage return",
            "\0": "a NUL character", "\b": "a backspace", "\a": "a bell character",
            "\v": "a vertical tab"}.get(ch)
    return name or f"U+{ord(ch):04X} ({unicodedata.name(ch, 'a control character').lower()})"


def _read_file(path, problems, file):
    """Parse one YAML file into (list of (record dict, marks)), reporting problems as ``file``."""
    import yaml
    try:
        text = _read_text(path)
    except _NotAnIdentityFile as exc:
        problems.add("MI029", str(exc), file, hint=exc.hint)
        return []
    except UnicodeDecodeError as exc:
        raw = exc.object
        problems.add("MI029", f"file is not UTF-8 text ({exc.reason} at byte {exc.start})", file,
                     line=raw.count(b"\n", 0, exc.start) + 1,
                     column=exc.start - raw.rfind(b"\n", 0, exc.start), hint="save the file as UTF-8")
        return []
    except OSError as exc:
        problems.add("MI029", f"cannot read file: {exc.strerror or exc}", file,
                     hint="check the path and the file's permissions")
        return []
    if "\x00" in text:
        at = text.index("\x00")
        problems.add("MI029", "file contains a NUL byte", file, line=text.count("\n", 0, at) + 1,
                     column=at - text.rfind("\n", 0, at), hint="remove it; is this a binary file?")
        return []
    alias = _first_anchor_or_alias(text)
    if alias is not None:
        what, mark = alias
        if what.startswith("nesting"):
            problems.add("MI020", f"YAML {what}", file, mark,
                         hint="a record is a mapping of fields; lists and mappings in it nest a few levels")
        else:
            problems.add("MI030", f"YAML {what}: identity files do not use anchors (&name) or aliases "
                         "(*name)", file, mark, hint="write the value out in full where it is used")
        return []
    fast = _compose_fast(text)
    if fast is not None:
        loader, node = fast
        return _records_of(loader, node, problems, file, text)
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:       # a character YAML does not allow
        problems.add("MI020", f"YAML syntax error: character {chr(exc.character)!r} is not allowed",
                     file, line=text.count("\n", 0, exc.position) + 1,
                     column=exc.position - text.rfind("\n", 0, exc.position),
                     hint="remove control characters; an identity file is printable text")
        return []
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(p for p in (exc.context, exc.problem) if p)
        if exc.context_mark and mark is exc.problem_mark and exc.context_mark.line != mark.line:
            msg += f" (the construct starts at line {exc.context_mark.line + 1})"
        hint = "indent with spaces, not tabs" if "\\t" in msg or "tab" in msg else \
            "check the indentation and quoting around this line"
        problems.add("MI020", f"YAML syntax error: {msg}", file, mark, hint=hint)
        return []
    except yaml.YAMLError as exc:
        problems.add("MI020", f"YAML error: {exc}", file, line=1)
        return []
    finally:
        loader.dispose()
    return _records_of(loader, node, problems, file, text)


class _NotAnIdentityFile(Exception):
    def __init__(self, message, hint):
        super().__init__(message)
        self.hint = hint


def _read_text(path):
    """The file's text, read only if it is a regular file of at most MAX_FILE_BYTES bytes.

    A device (/dev/zero), a FIFO or a huge file is refused before it is read
    in full: reading it would hang or exhaust memory.
    """
    import stat
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not regular)
    with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _NotAnIdentityFile("not a regular file", "name a YAML file or a folder of them")
        raw = fh.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise _NotAnIdentityFile(f"file is larger than {MAX_FILE_BYTES // 2 ** 20} MiB",
                                 "split it into files of related records (a few kB each)")
    return raw.decode("utf-8")


def read_yaml(path):
    """The data of a small YAML file of matident's (a coverage file), read as identity files are:
    at most MAX_FILE_BYTES, with the C safe loader, no anchors or aliases.

    Raises ValueError (or OSError, UnicodeDecodeError, yaml.YAMLError) with the reason.
    """
    import yaml
    try:
        text = _read_text(path)
    except _NotAnIdentityFile as exc:
        raise ValueError(f"{exc} ({exc.hint})") from None
    alias = _first_anchor_or_alias(text)
    if alias is not None:
        raise ValueError(f"YAML {alias[0]} at line {alias[1].line + 1}" + (
            "" if alias[0].startswith("nesting") else
            ": matident's files do not use anchors or aliases (write the value out in full)"))
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _first_anchor_or_alias(text):
    """("anchor '&r'" or "alias '*r'", mark) of the first one in ``text``, or None.

    Read from the parser's events, before anything is composed or constructed,
    so that neither a recursive alias nor an expansion bomb is ever built.  A
    syntax error is left to the composer (it reports it with its context).
    """
    import yaml
    cls = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    try:
        loader = cls(text)
    except yaml.YAMLError:
        return None
    depth = 0
    try:
        while True:
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                return f"alias '*{event.anchor}'", event.start_mark
            if getattr(event, "anchor", None):
                return f"anchor '&{event.anchor}'", event.start_mark
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    return f"nesting deeper than {MAX_YAML_DEPTH} levels", event.start_mark
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.StreamEndEvent):
                return None
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def _compose_fast(text):
    """(loader, node) from libyaml's safe composer, or None (then the pure-Python
    loader composes the file again and reports any problem with its messages)."""
    import yaml
    cls = getattr(yaml, "CSafeLoader", None)
    if cls is None:
        return None
    try:
        loader = cls(text)
        return loader, loader.get_single_node()
    except yaml.YAMLError:
        return None


def _records_of(loader, node, problems, file, text):
    """The records of a composed file: (record dict, marks, had problems) each."""
    import yaml
    if node is None:
        problems.add("MI025", "file is empty", file, line=1,
                     hint="an identity file is a YAML list of records: start with '- id: ...'")
        return []
    if not isinstance(node, yaml.SequenceNode):
        kind = "a mapping" if isinstance(node, yaml.MappingNode) else "a single value"
        problems.add("MI025", f"file is {kind}, not a list of records", file, node.start_mark,
                     hint="start each record with '- ' (a YAML list item)")
        return []
    out = []
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]     # offsets of lines
    for item in node.value:
        before = len(problems.items)
        value, marks = _construct(loader, item, problems, file, text, starts)
        rid = value.get("id") if isinstance(value, dict) else None
        for problem in problems.items[before:]:
            problem.record = rid if isinstance(rid, str) else None
        out.append((value, marks, len(problems.items) > before))
    return out


def _mark_for(marks, path):
    path = tuple(path)
    while path not in marks and path:
        path = path[:-1]
    return marks.get(path)


# -- validation ---------------------------------------------------------------

def _schema_problems(data, marks, file, problems, rid):
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    for err in (e for top in errors for e in _specific(top)):
        path = list(err.absolute_path)
        where = ".".join(str(p) for p in path) or "record"
        hint = "see the field's description in schema/identity.schema.json"
        message = err.message
        mark = _mark_for(marks, path)
        if err.validator == "additionalProperties" and not path:
            allowed = list(schema()["$defs"]["record"]["properties"])
            extra = sorted(set(data) - set(allowed))
            for field in extra:
                close = difflib.get_close_matches(field, allowed, n=1)
                problems.add("MI022", f"unknown field '{field}'", file,
                             marks.get((field, "__key__")), rid,
                             hint=(f"did you mean '{close[0]}'? " if close else "")
                             + "allowed fields: " + ", ".join(allowed))
            continue
        if err.validator == "required":
            field = re.search(r"'([^']+)'", err.message)
            field = field.group(1) if field else err.message
            message = (f"{where}: " if path else "") + f"missing required field '{field}'"
            hint = f"add '{field}: ...'" + (f" to {where}" if path else "")
        elif err.validator == "enum" and path and path[0] == "tags":
            close = difflib.get_close_matches(str(err.instance), schema()["$defs"]["tag"]["enum"], n=1)
            message = f"unknown tag {err.instance!r}"
            hint = (f"did you mean '{close[0]}'? " if close else "") + \
                "tags come from the controlled vocabulary in schema/identity.schema.json"
        elif err.validator == "enum":
            message = f"{where}: {err.instance!r} is not one of {err.validator_value}"
            close = difflib.get_close_matches(str(err.instance), map(str, err.validator_value), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"write one of {err.validator_value}"
        elif err.validator in ("type", "oneOf"):
            wanted = [err.validator_value] if err.validator == "type" else sorted(
                {s.validator_value for s in err.context if s.validator == "type" and not s.relative_path})
            wanted = [_YAML_TYPES.get(w, w) for w in wanted]
            got = type(err.instance).__name__
            message = f"{where}: expected {' or '.join(wanted)}, got {got} {err.instance!r}"
            if isinstance(err.instance, str) and _FLOATISH.match(err.instance):
                hint = f"YAML 1.1 reads {err.instance} as text, not a number; write a plain number"
            elif isinstance(err.instance, bool):
                hint = "yes/no/on/off are booleans in YAML 1.1; quote them"
            else:
                hint = f"write {where} as {' or '.join(wanted)}"
        elif err.validator == "pattern" and path == ["id"]:
            message = f"id {err.instance!r} is not a slug"
            hint = "use lowercase letters, digits and single hyphens, e.g. 'trace-axb-derivative'"
        elif err.validator == "pattern" and path[:1] == ["symbols"]:
            message = f"{where}: {err.instance!r} is not a declaration"
            hint = "write 'scalar', 'vector n', 'matrix m n' or a shorthand such as 'spd n', " \
                "followed by structure words"
        elif err.validator == "not" and not path and "relation" in err.instance \
                and err.instance.get("kind") != "inequality":
            message = "'relation' belongs only to inequality records"
            hint = "remove it, or write kind: inequality"
            mark = marks.get(("relation", "__key__")) or mark
        elif err.validator == "not" and not path:
            message = "'wrt' and 'layout' belong only to derivative and differential records"
            hint = "remove them, or change the kind"
            mark = marks.get(("wrt", "__key__")) or marks.get(("layout", "__key__")) or mark
        else:
            message = f"{where}: {err.message}"
        problems.add("MI022", message, file, mark, rid, hint=hint)


def _specific(err):
    """The errors that explain ``err``: for a ``oneOf``, those of the one branch whose type fits."""
    if err.validator != "oneOf" or not err.context:
        return [err]
    branches = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [subs for subs in branches.values()
               if not any(s.validator == "type" and not s.relative_path for s in subs)]
    if len(fitting) != 1:
        return [err]
    return [e for sub in fitting[0] for e in _specific(sub)]


def _column_of(marks, key, err_column):
    mark = marks.get((key,))
    if mark is None:
        return None, None
    col = mark.column + 1
    if err_column:
        raw = mark.buffer[mark.index] if mark.buffer else ""
        col += err_column - 1 + (1 if raw in "'\"" else 0)
    return mark.line + 1, col


def _same_shape(a, b):
    def norm(d):
        return tuple(sorted(map(str, d.factors))) if isinstance(d, Prod) else (str(d),)
    return norm(a[0]) == norm(b[0]) and norm(a[1]) == norm(b[1])


def _build_record(data, marks, file, problems):
    rid = data.get("id") if isinstance(data.get("id"), str) else None
    n_before = len(problems.items)

    def fail(code, message, key=None, hint=None, column=None, sub=None):
        mark = marks.get(sub) if sub else None
        if mark is None and key is not None:
            line, col = _column_of(marks, key, column)
        else:
            line, col = (mark.line + 1, mark.column + 1) if mark else (marks[()].line + 1, marks[()].column + 1)
        if line is None:
            line, col = marks[()].line + 1, marks[()].column + 1
        problems.add(code, message, file, record=rid, hint=hint, line=line, column=col)

    from .parse import check_declared_names     # here: a catalogue read from the cache parses nothing
    symbols = {}
    for name, text in data["symbols"].items():
        try:
            check_declared_names({name: text})       # I, pi and function names are reserved
            symbols[name] = parse_decl(text)
        except MatidentError as exc:
            fail(exc.code, exc.message, hint=exc.hint, sub=("symbols", name))
    kind = data["kind"]
    raw_wrt = data.get("wrt")
    wrts = raw_wrt if isinstance(raw_wrt, list) else ([raw_wrt] if raw_wrt else [])
    if len(wrts) > 1 and kind != "differential":
        fail("MI028", "only a differential record may list several variables in wrt", "wrt",
             hint="name one variable, or state the rule as a differential record")
    for wrt in wrts:
        if wrt not in symbols:
            fail("MI026", f"wrt '{wrt}' is not among the symbols ({', '.join(symbols)})", "wrt",
                 hint=f"declare '{wrt}' under symbols")
        elif kind == "differential":
            if f"d{wrt}" in symbols:
                fail("MI028", f"'d{wrt}' is implicit in a differential record; do not declare it",
                     sub=("symbols", f"d{wrt}"), hint=f"remove d{wrt} from symbols")
            else:
                base = symbols[wrt]
                symbols[f"d{wrt}"] = Decl(base.kind, base.rows, base.cols,
                                          tuple(w for w in base.words
                                                if w in ("symmetric", "diagonal", "skew", "lower", "upper", "toeplitz")))
    wrt = wrts[0] if wrts else None
    if len(problems.items) > n_before:
        return None
    from .parse import parse_expr       # here: a catalogue read from the cache parses nothing
    from .structure import require_symmetric_arguments
    sides = {}
    for key in ("lhs", "rhs"):
        try:
            tree = parse_expr(data[key])
            expect = _expected_shape(kind, sides["lhs"].shape, symbols, wrt, data) \
                if key == "rhs" and "lhs" in sides else None
            sides[key] = require_symmetric_arguments(infer(tree, symbols, shape=expect))
        except MatidentError as exc:
            fail(exc.code, f"{key}: {exc.message}", key, hint=exc.hint, column=exc.column)
    if len(sides) < 2:
        return None
    lhs, rhs = sides["lhs"], sides["rhs"]
    used = set(lhs.expr.symbols()) | set(rhs.expr.symbols())
    for name in symbols:
        if name not in used and name not in {f"d{w}" for w in wrts}:
            fail("MI028", f"symbol '{name}' is declared but used in neither side",
                 sub=("symbols", name), hint="remove it or fix the spelling in lhs/rhs")
    zero_rhs = rhs.expr.op == "num" and rhs.expr.value == 0     # lhs = 0: a zero of any shape
    if kind == "inequality":
        for key, side in (("lhs", lhs), ("rhs", rhs)):
            if not is_scalar_shape(side.shape):
                fail("MI027", f"{key} of an inequality is {fmt_shape(side.shape)}, not a scalar", key,
                     hint="both sides of an inequality are scalars: compare norms, traces, "
                          "determinants or entries such as max(X)")
    elif kind == "identity" and not zero_rhs and not _same_shape(lhs.shape, rhs.shape):
        fail("MI027", f"lhs is {fmt_shape(lhs.shape)} but rhs is {fmt_shape(rhs.shape)}", "rhs",
             hint="both sides of an identity have one shape; check transposes and declarations")
    elif kind in ("derivative", "differential") and all(w in symbols for w in wrts):
        for w in wrts:
            if not lhs.expr.has(w):
                fail("MI028", f"lhs does not depend on wrt '{w}'", "lhs",
                     hint="check the spelling of wrt and lhs")
        expected = _expected_rhs_shape(kind, lhs.shape, symbols[wrt], data.get("layout", "numerator"))
        if expected is None:
            fail("MI028", f"the derivative of a {fmt_shape(lhs.shape)} expression by a "
                          f"{fmt_shape(symbols[wrt].shape)} variable is not a matrix",
                 "kind", hint="state it as a differential record instead")
        elif not _same_shape(expected, rhs.shape):
            fail("MI027", f"rhs is {fmt_shape(rhs.shape)} but a {kind} of this lhs by {wrt} "
                          f"must be {fmt_shape(expected)}", "rhs",
                 hint="a gradient has the shape of its variable (not transposed); a Jacobian of "
                      "vectors is m x n unless layout: denominator")
        for w in wrts if kind == "differential" else ():
            if not rhs.expr.has(f"d{w}"):
                fail("MI028", f"the rhs of a differential must contain d{w}", "rhs",
                     hint=f"write it linear in d{w}, e.g. -inv({w}) @ d{w} @ inv({w})")
    if kind != "derivative" and "layout" in data:
        fail("MI028", "'layout' applies only to derivative records", "layout",
             hint="remove it; a differential has the shape of its lhs")
    if len(problems.items) > n_before:
        return None
    return Record(data, symbols, lhs.expr, rhs.expr, lhs.shape, file, marks[()].line + 1)


def _expected_shape(kind, lhs_shape, symbols, wrt, data):
    """The shape the rhs must have, used to size a bare ``I`` in it (None if unknown)."""
    if kind != "derivative":
        return lhs_shape
    if wrt not in symbols:
        return None
    return _expected_rhs_shape(kind, lhs_shape, symbols[wrt], data.get("layout", "numerator"))


def _expected_rhs_shape(kind, lhs_shape, wrt_decl, layout):
    if kind == "differential":
        return lhs_shape
    wrt_shape = wrt_decl.shape
    if is_scalar_shape(lhs_shape):
        return wrt_shape
    if is_scalar_shape(wrt_shape):
        return lhs_shape
    if wrt_decl.kind == "vector" and lhs_shape[1] == 1:
        m, n = lhs_shape[0], wrt_shape[0]
        return (m, n) if layout == "numerator" else (n, m)
    return None


def load(paths, *, base=None):
    """Load identity files (paths to files or folders of ``*.yaml``) into a :class:`Catalogue`.

    Every problem in every file is collected; if there is any, a
    :class:`CatalogueError` listing them all is raised and nothing is returned.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not isinstance(paths, (list, tuple)) or not all(isinstance(p, (str, Path)) for p in paths):
        from .errors import UsageError
        raise UsageError(f"load() takes a path or a list of paths, got {paths!r:.40}",
                         hint="e.g. load('identities') or load(['a.yaml', 'b.yaml'])")
    problems = _Problems()
    files = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(p.glob("*.yaml"))
            for other in sorted(p.glob("*.yml")):
                problems.add("MI029", "identity files end in .yaml; this one is not loaded",
                             _display_path(other, base), hint=f"rename it to {other.stem}.yaml")
            if not found and not problems.items:
                problems.add("MI029", "folder holds no identity files (*.yaml)", _display_path(p, base),
                             hint="name a folder of identity files, or the files themselves")
            files.extend(found)
        else:
            files.append(p)
    if not files and not problems.items:
        raise CatalogueError([MatidentError("no identity files given", code="MI029", file="?",
                                            hint="name identity files or folders of them")])
    records, first_seen = [], {}
    for path in files:
        shown = _display_path(path, base)
        for data, marks, had_problems in _read_file(path, problems, shown):
            rid = data.get("id") if isinstance(data, dict) else None
            rid = rid if isinstance(rid, str) else None
            if not isinstance(data, dict):
                problems.add("MI022", f"a record must be a mapping of fields, got {type(data).__name__}",
                             shown, marks[()], hint="write each record as '- id: ...' followed by "
                             "its fields, one per line")
                continue
            n_before = len(problems.items)
            _schema_problems(data, marks, shown, problems, rid)
            if rid is not None:
                mark = marks.get(("id",)) or marks[()]
                here = (shown, mark.line + 1, mark.column + 1, _age(path))
                if rid in first_seen:
                    _duplicate(problems, rid, first_seen[rid], here)
                else:
                    first_seen[rid] = here
            if len(problems.items) > n_before or had_problems:
                continue
            record = _build_record(data, marks, shown, problems)
            if record is not None:
                records.append(record)
    for item in problems.items:
        if item.file is None:
            item.file = "?"
    if problems.items:
        raise CatalogueError(problems.items)
    return Catalogue(records)


def _age(path):
    """Modification time of a file (a newer file is the one a duplicate id is blamed on)."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _duplicate(problems, rid, first, second):
    """Report an id defined twice, naming both places, at the newer of the two.

    The newer is the file modified more recently (a contributor's new or edited
    file, not the published record it collides with); between files of one age,
    the later in load order (argument order, then file names).
    """
    older, newer = (second, first) if first[3] > second[3] else (first, second)
    problems.add("MI023", f"duplicate id '{rid}' (also defined at {older[0]}:{older[1]})",
                 newer[0], record=rid, line=newer[1], column=newer[2],
                 hint="ids are unique across all files: rename this one")


def _display_path(path, base):
    path = Path(path)
    for root in ([Path(base)] if base else []) + [Path.cwd()]:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


_CACHED_MODULES = ("catalogue.py", "expr.py", "shapes.py", "functions.py", "parse.py", "errors.py",
                   "normal.py", "structure.py")   # the last two: eigvalsh's symmetry check


@functools.lru_cache(maxsize=1)
def catalogue():
    """The shipped catalogue, loaded once per process (and kept in the disk cache).

    Loading ~600 records from YAML takes about a second; the cache
    (:mod:`matident.cache`) is keyed by the files' contents, so an edited
    identity file is always read afresh.
    """
    from . import cache
    folder = data_dir("identities")
    key = cache.fingerprint("matident-catalogue-2", catalogue_inputs(), _CACHED_MODULES)
    return cache.load_or_build("catalogue", key, lambda: load(folder, base=folder.parent), Catalogue)


def catalogue_inputs():
    """The files the shipped catalogue is built from: its identity files (a stray ``.yml``
    too, which the loader refuses) and the schema they are checked against."""
    folder = data_dir("identities")
    files = sorted(f for f in folder.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
    return files + [data_dir("schema") / "identity.schema.json"]
