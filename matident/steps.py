"""A step of a derivation: one rule application, shared by :mod:`matident.derive` and
:mod:`matident.vecderiv` (a module of its own, so that neither imports the other for it)."""
from __future__ import annotations


class Step:
    """One rule application: the record used, the expression before and after (text and LaTeX).

    ``before``, ``after``, ``latex_before`` and ``latex_after`` may be given as
    strings or as functions of no arguments that print them: a long derivation
    (a product of 60 factors has hundreds of steps, each printing a product of
    59) prints only the steps somebody reads, once each.
    """
    _PRINTED = ("before", "after", "latex_before", "latex_after")
    __slots__ = ("rule", "description", "claim", "_forms")

    def __init__(self, rule, before, after, description, latex_before="", latex_after="", claim=None):
        self.rule = rule
        self.description = description
        #: what the step claims, as trees its own check evaluates: ("differential", F, dF) or
        #: ("identity", lhs, rhs); None for steps that only announce (order 2)
        self.claim = claim
        self._forms = {"before": before, "after": after,
                       "latex_before": latex_before, "latex_after": latex_after}

    def _printed(self, name):
        form = self._forms[name]
        if callable(form):
            form = self._forms[name] = form()
        return form

    before = property(lambda self: self._printed("before"))
    after = property(lambda self: self._printed("after"))
    latex_before = property(lambda self: self._printed("latex_before"))
    latex_after = property(lambda self: self._printed("latex_after"))

    def _key(self):
        return (self.rule, self.description) + tuple(self._printed(n) for n in self._PRINTED)

    def __eq__(self, other):
        return isinstance(other, Step) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"Step(rule={self.rule!r}, before={self.before!r}, after={self.after!r}, "
                f"description={self.description!r})")

    def __str__(self):
        return f"{self.before}  =  {self.after}    [{self.rule}: {self.description}]"
