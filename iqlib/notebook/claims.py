"""A notebook's claims: measured, compared with their target, asserted, and written as metrics.

Every notebook ends with a cell like::

    claims = Claims()
    claims.add("iql_beats_bc", "IQL's success rate beats BC's by at least 0.2",
               value=iql - bc, target=">= 0.2", holds=iql - bc >= 0.2, on="fresh", headline=True)
    claims.add("hopper_medium_expert", "IQL reaches 80 on hopper-medium-expert (paper: 91.5)",
               value=31.5, target=">= 80", holds=31.5 >= 80, expected=False, on="record",
               reason="2·10⁴ of the paper's 10⁶ updates")
    metrics.update(claims.metrics())
    print(claims.table())
    failed = claims.failures()     # "" when every expected claim holds
    assert not failed, f"claims that do not hold: {failed}"

``expected=True`` (the default) is a claim the notebook stands behind: :meth:`Claims.check`
raises ``AssertionError`` if it does not hold, and so does the notebook's own
``assert not claims.failures()``. ``expected=False`` is a *measured miss*: stated
with its number and reason, never asserted away; if a later run makes it hold, the verdict
says ``holds`` and the table marks it as a miss that now holds.

Metrics (flat, for ``metrics.json`` and the run summary)::

    claim_<name>          True / False (holds)
    claim_<name>_value    the measured number
    headline_claim, headline_value, headline_target, headline_verdict, headline_on
                          the claim marked ``headline=True`` (else the first one added)
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

__all__ = ["Claim", "Claims"]

_NAME = re.compile(r"^[a-z0-9_]+$")
_ON = ("fresh", "record")


class Claim(NamedTuple):
    name: str
    statement: str
    value: float
    target: str
    holds: bool
    expected: bool
    on: str
    reason: str

    @property
    def verdict(self) -> str:
        return "holds" if self.holds else "miss"


class Claims:
    """An ordered set of claims; see the module docstring."""

    def __init__(self) -> None:
        self._claims: list[Claim] = []
        self._headline: str | None = None

    def add(self, name: str, statement: str, value: Any, target: str, holds: Any, *,
            expected: bool = True, on: str = "fresh", reason: str = "", headline: bool = False) -> Claim:
        """Add one claim and return it.

        Args:
          name: lower-case letters, digits and ``_``; unique within the notebook.
          statement: the claim in one sentence.
          value: the measured number (float; NaN allowed, and then ``holds`` should be False).
          target: the threshold in words, e.g. ``">= 0.2"``.
          holds: whether the measured value meets the target (a bool or numpy bool).
          expected: True for a claim the notebook asserts, False for a known, stated miss.
          on: ``"fresh"`` (this run's numbers) or ``"record"`` (a recorded full-scale run).
          reason: why a miss misses (required when ``expected`` is False).
          headline: this is the notebook's headline claim (at most one).

        Raises:
          ValueError: a bad or repeated name, a bad ``on``, a second headline, or a miss
            without its reason.
        """
        if not _NAME.match(name):
            raise ValueError(f"claim name {name!r} must use only a-z, 0-9 and '_'")
        if any(c.name == name for c in self._claims):
            raise ValueError(f"claim {name!r} was added twice")
        if on not in _ON:
            raise ValueError(f"claim {name!r}: on must be one of {_ON}, got {on!r}")
        if not expected and not reason:
            raise ValueError(f"claim {name!r} is a stated miss (expected=False) and needs its reason")
        if headline and self._headline is not None:
            raise ValueError(f"claim {name!r}: {self._headline!r} is already the headline")
        claim = Claim(name, statement, float(value), str(target), bool(holds), bool(expected), on, reason)
        self._claims.append(claim)
        if headline:
            self._headline = name
        return claim

    def __iter__(self):
        return iter(self._claims)

    def __len__(self) -> int:
        return len(self._claims)

    def headline(self) -> Claim:
        """The headline claim (the first added if none was marked). Raises ``ValueError`` if empty."""
        if not self._claims:
            raise ValueError("no claims were added")
        return next((c for c in self._claims if c.name == self._headline), self._claims[0])

    def metrics(self) -> dict[str, Any]:
        """The flat metrics of the claims (module docstring)."""
        out: dict[str, Any] = {}
        for c in self._claims:
            out[f"claim_{c.name}"] = c.holds
            out[f"claim_{c.name}_value"] = c.value if math.isfinite(c.value) else None
        if self._claims:
            h = self.headline()
            out.update(headline_claim=h.statement, headline_value=h.value if math.isfinite(h.value) else None,
                       headline_target=h.target, headline_verdict=h.verdict, headline_on=h.on)
        return out

    def table(self) -> str:
        """A markdown table of every claim: statement, value, target, verdict, on what."""
        rows = ["| claim | value | target | verdict | on |", "|---|---|---|---|---|"]
        for c in self._claims:
            verdict = c.verdict if c.expected else (f"stated miss: {c.reason}" if not c.holds
                                                    else f"holds (was a stated miss: {c.reason})")
            rows.append(f"| {c.statement} | {c.value:.4g} | {c.target} | {verdict} | {c.on} |")
        return "\n".join(rows)

    def failures(self) -> str:
        """``""`` when every expected claim holds, else one line naming each that misses (for an assert).

        Raises ``ValueError`` if no claim was added (a notebook must claim something).
        """
        if not self._claims:
            raise ValueError("no claims were added")
        failed = [c for c in self._claims if c.expected and not c.holds]
        return "; ".join(f"{c.name}: {c.statement} (measured {c.value:.4g}, target {c.target}, on the {c.on} run)"
                         for c in failed)

    def check(self) -> None:
        """Print :meth:`table`, then raise ``AssertionError`` naming every expected claim that misses.

        A notebook writes the same as ``print(claims.table()); failed = claims.failures();
        assert not failed, failed``, so that the assertion stands in its last cell.
        Raises ``ValueError`` if no claim was added.
        """
        failed = self.failures()
        print(self.table())
        if failed:
            raise AssertionError("claims that do not hold: " + failed)
