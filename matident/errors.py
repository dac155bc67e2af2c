"""User-facing errors.

Every error matident raises on bad input derives from :class:`MatidentError`
(a :class:`ValueError`).  Each carries a stable code (``MI0xx``), an optional
location (file, line, column), the record id it concerns and a hint that says
how to fix the input.  ``str(err)`` is the one-line message a user sees.
"""
from __future__ import annotations

# Stable error codes.  Tests and the docs refer to them; never renumber.
CODES = {
    "MI001": "expression syntax error",
    "MI002": "construct not allowed in the expression language",
    "MI003": "unknown function",
    "MI004": "wrong number of arguments",
    "MI005": "expression too large or too deep",
    "MI006": "invalid character",
    "MI007": "unknown or undeclared symbol",
    "MI008": "shape mismatch",
    "MI009": "power of a matrix",
    "MI010": "invalid symbol declaration",
    "MI011": "invalid number",
    "MI020": "YAML syntax error",
    "MI021": "duplicate key",
    "MI022": "schema violation",
    "MI023": "duplicate id",
    "MI024": "YAML 1.1 trap",
    "MI025": "file is not a list of records",
    "MI026": "wrt is not a declared symbol",
    "MI027": "lhs and rhs disagree in shape",
    "MI028": "record is inconsistent",
    "MI029": "file cannot be read",
    "MI030": "YAML anchor or alias",
    "MI040": "no rule applies",
    "MI041": "derivation failed its numeric check",
    "MI050": "usage error",
}


class MatidentError(ValueError):
    """Base class of every error caused by the user's input."""

    default_code = "MI000"

    def __init__(self, message, *, code=None, file=None, line=None, column=None,
                 record=None, hint=None):
        self.message = message
        self.code = code or self.default_code
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column
        self.record = record
        self.hint = hint
        super().__init__(str(self))

    def location(self):
        """``file:line:column`` (the parts that are known), or ``''``."""
        if self.file is None and self.line is None:
            return "" if self.column is None else f"column {self.column}"
        parts = [p for p in (self.file, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def __str__(self):
        loc = self.location()
        text = f"{loc}: " if loc else ""
        text += f"{self.code} "
        if self.record:
            text += f"[{self.record}] "
        text += self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def located(self, *, file=None, line=None, column=None, record=None):
        """Return a copy of this error placed in a file (for the loader)."""
        err = type(self)(self.message, code=self.code, file=file or self.file,
                         line=line if line is not None else self.line,
                         column=column if column is not None else self.column,
                         record=record or self.record, hint=self.hint)
        return err

    def as_dict(self):
        return {"code": self.code, "file": self.file, "line": self.line,
                "column": self.column, "record": self.record,
                "message": self.message, "hint": self.hint}


class ParseError(MatidentError):
    """Text that is not a valid expression or declaration."""

    default_code = "MI001"


class ShapeError(MatidentError):
    """Operands whose shapes do not conform."""

    default_code = "MI008"


class DeclarationError(MatidentError):
    """A symbol declaration such as ``"matrix n n spd"`` that cannot be read."""

    default_code = "MI010"


class CatalogueError(MatidentError):
    """Problems found while loading identity files.

    ``errors`` holds every individual problem (each a :class:`MatidentError`
    with file, line and column); ``str()`` lists them all, one per line.
    """

    default_code = "MI020"

    def __init__(self, errors):
        self.errors = list(errors)
        first = self.errors[0] if self.errors else None
        count = len(self.errors)
        head = f"{count} problem{'s' if count != 1 else ''} in identity files"
        body = "\n".join(str(e) for e in self.errors)
        super().__init__(f"{head}:\n{body}", code=first.code if first else None)

    def __str__(self):
        return self.message


class DeriveError(MatidentError):
    """A derivative that the catalogue's rules cannot produce, or one that failed its check.

    When the numeric check of a finished derivation fails, ``derivation``
    holds it (for inspection, never as an answer) and ``step`` the first
    step whose own check fails (``None`` if every step passes on its own).
    """

    default_code = "MI040"

    def __init__(self, message, *, derivation=None, step=None, **kwargs):
        self.derivation = derivation
        self.step = step
        super().__init__(message, **kwargs)

    def located(self, **kwargs):
        err = super().located(**kwargs)
        err.derivation, err.step = self.derivation, self.step
        return err


class UsageError(MatidentError):
    """Wrong use of the command line or the API."""

    default_code = "MI050"
