"""A step of a derivation: one rule application, shared by :mod:`matident.derive` and
:mod:`matident.vecderiv` (a module of its own, so that neither imports the other for it)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """One rule application: the record used, the expression before and after (text and LaTeX)."""
    rule: str
    before: str
    after: str
    description: str
    latex_before: str = ""
    latex_after: str = ""
    #: what the step claims, as trees its own check evaluates: ("differential", F, dF) or
    #: ("identity", lhs, rhs); None for steps that only announce (order 2)
    claim: tuple | None = field(default=None, compare=False, repr=False)

    def __str__(self):
        return f"{self.before}  =  {self.after}    [{self.rule}: {self.description}]"
