"""The verdict of one patient's analysis: pass, violation or not evaluable, and what decides it.

One computation feeds every output: the report's banner, the console summary of ``analyze`` and
``check``, ``results.json`` (key ``verdict``) and the batch's per-patient line.

* **violation**: any constraint check FAILs or any protocol coverage rule is not met;
* **not evaluable**: nothing fails but some check could not be evaluated;
* **pass**: every check was evaluated and holds.

Each failing check is a :class:`Finding` with its value, limit and margin (positive when the check
holds, negative by how much it is violated, in the check's own unit). Warnings are de-duplicated
and sorted into two severities (:class:`WarningSeverity`): ``review`` (may change a reported number
or the verdict; the default for any warning not known to be harmless) and ``note``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dosimetry.errors import ConstraintError
from dosimetry.numbers import round_half_up

#: The summation scope when no prior course was given (banner, console, results.json).
NO_PRIOR_SCOPE = "current course only, no prior dose summed"


class Verdict(StrEnum):
    PASS = "pass"
    VIOLATION = "violation"
    NOT_EVALUABLE = "not_evaluable"


class WarningSeverity(StrEnum):
    REVIEW = "review"  # may change a reported number or the verdict
    NOTE = "note"  # does not change any reported number


class FindingKind(StrEnum):
    CONSTRAINT = "constraint"
    COVERAGE = "coverage"


def explaining_digits(
    value: float, limit: float, holds: bool, tolerance: float = 0.0, *, at_least: int = 1, comparator: str = ">="
) -> str:
    """``value`` with the fewest decimals (``at_least``..6) at which the printed number leads to the
    same verdict as the exact one (99.9846 against a required >= 100 prints 99.98, never 100.0;
    50.004 against <= 50 prints 50.004, never 50.00). ``comparator``: ``>=``, ``>``, ``<=`` or ``<``
    (``tolerance`` widens the limit in the check's favour). Compared in decimal arithmetic, so the
    printed digits themselves decide."""
    from decimal import Decimal

    if comparator not in (">=", ">", "<=", "<"):
        raise ConstraintError(f"explaining_digits: comparator {comparator!r}; expected one of >=, >, <=, <")
    bound, tol = Decimal(repr(float(limit))), Decimal(repr(float(tolerance)))
    for decimals in range(at_least, 7):
        shown = round_half_up(value, decimals)
        d = Decimal(shown)
        printed_holds = {
            ">=": d + tol >= bound, ">": d + tol > bound, "<=": d - tol <= bound, "<": d - tol < bound,
        }[comparator]
        if printed_holds == holds:
            return shown
    return repr(float(value))


def constraint_value_text(value: float | None, limit: float | None, comparator: str, status: str) -> str:
    """A constraint row's value as printed: two decimals, more when a FAIL would otherwise read as
    holding (50.004 against <= 50 prints 50.004, never 50.00); ``-`` when there is none."""
    if value is None:
        return "-"
    if status == "FAIL" and limit is not None:
        return explaining_digits(float(value), float(limit), False, at_least=2, comparator=comparator)
    return f"{float(value):.2f}"


@dataclass(frozen=True)
class Finding:
    """A failing or not-evaluable check: ``value``/``limit``/``margin`` in ``unit`` (None when not evaluable)."""

    kind: FindingKind
    subject: str  # the ROI (constraint) or target (coverage)
    check: str  # e.g. "emami Blindness Max[Gy] on EQD2_2_cumulative" or "V90% (protocol coverage rule)"
    comparator: str
    value: float | None
    limit: float | None
    margin: float | None
    unit: str
    status: str
    value_text: str
    detail: str

    @property
    def margin_text(self) -> str:
        """The margin with as many decimals as the value shows (``-14.99``, ``-0.0154``)."""
        if self.margin is None:
            return "-"
        decimals = len(self.value_text.split(".")[1]) if "." in self.value_text else 2
        return f"{self.margin:+.{decimals}f}"

    def text(self) -> str:
        """One line: ``OpticChiasm: Max[Gy] 64.99 Gy, limit <= 50 Gy, margin -14.99 Gy (emami Blindness)``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.value is None or self.limit is None:
            return f"{self.subject}: {self.check} not evaluable ({self.detail})"
        margin = "" if self.margin is None else f", margin {self.margin_text}{unit}"
        return f"{self.subject}: {self.check} = {self.value_text}{unit}, limit {self.comparator} {self.limit:g}{unit}{margin} ({self.detail})"


@dataclass(frozen=True)
class ClassifiedWarning:
    severity: WarningSeverity
    text: str


@dataclass(frozen=True)
class PlanVerdict:
    """The verdict, what was summed, every failing and not-evaluable check, and the warnings by severity."""

    verdict: Verdict
    scope: str
    failures: tuple[Finding, ...]
    not_evaluable: tuple[Finding, ...]
    warnings: tuple[ClassifiedWarning, ...]

    @property
    def failing_constraints(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.failures if f.kind is FindingKind.CONSTRAINT)

    @property
    def failing_coverage(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.failures if f.kind is FindingKind.COVERAGE)

    def warnings_of(self, severity: WarningSeverity) -> tuple[str, ...]:
        return tuple(w.text for w in self.warnings if w.severity is severity)

    @property
    def worst(self) -> Finding | None:
        """The failing constraint farthest beyond its limit relative to the limit (:func:`relative_margin`;
        else the worst coverage rule)."""
        ranked = [f for f in self.failing_constraints if f.margin is not None] or [f for f in self.failing_coverage if f.margin is not None]
        return min(ranked, key=lambda f: relative_margin(f.margin or 0.0, f.limit)) if ranked else None

    def headline(self) -> str:
        if self.verdict is Verdict.VIOLATION:
            parts = []
            if self.failing_constraints:
                parts.append(f"{len(self.failing_constraints)} constraint(s) failed")
            if self.failing_coverage:
                parts.append(f"{len(self.failing_coverage)} coverage rule(s) not met")
            return f"VIOLATION: {', '.join(parts)}"
        if self.verdict is Verdict.NOT_EVALUABLE:
            return f"NOT EVALUABLE: nothing failed, but {len(self.not_evaluable)} check(s) could not be evaluated"
        return "PASS: every constraint and coverage rule holds"

    def lines(self) -> list[str]:
        """The console form: headline, scope, each failing / not evaluable check, warnings by severity."""
        out = [f"verdict: {self.headline()}", f"dose summed: {self.scope}"]
        out += [f"  FAIL {f.text()}" for f in self.failing_constraints]
        out += [f"  NOT MET {f.text()}" for f in self.failing_coverage]
        out += [f"  NOT EVALUABLE {f.text()}" for f in self.not_evaluable]
        for severity, label in ((WarningSeverity.REVIEW, "warnings to review"), (WarningSeverity.NOTE, "notes")):
            items = self.warnings_of(severity)
            if items:
                out.append(f"{label} ({len(items)}):")
                out += [f"  {w}" for w in items]
        return out

    def to_dict(self) -> dict[str, Any]:
        from dosimetry.patient.records import json_ready, record_dict

        return json_ready({
            "verdict": self.verdict.value,
            "headline": self.headline(),
            "scope": self.scope,
            "failures": [record_dict(f) for f in self.failures],
            "not_evaluable": [record_dict(f) for f in self.not_evaluable],
            "warnings": {s.value: list(self.warnings_of(s)) for s in WarningSeverity},
        })  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------ checks


def quantity_label(quantity: str, has_prior: bool) -> str:
    """How a dose quantity is named for a reader: without a prior course a ``*_cumulative`` map is the
    current course's alone (``EQD2_2_cumulative`` -> ``EQD2_2 (current course only)``)."""
    if has_prior or not quantity.casefold().endswith("_cumulative"):
        return quantity
    return f"{quantity[: -len('_cumulative')]} (current course only)"


def relative_margin(margin: float, limit: float | None) -> float:
    """``margin`` as a fraction of ``limit``: unit-free, so failures in Gy, % and cc rank together
    (14.99 Gy over a 50 Gy limit is -0.30; 5 cc over a 1000 cc limit -0.005); the margin itself for
    a zero or missing limit."""
    return margin / abs(limit) if limit else margin


def _margin(comparator: str, value: float, limit: float) -> float:
    """Positive when the check holds: limit - value for an upper limit, value - limit for a lower one."""
    return limit - value if comparator.startswith("<") else value - limit


def constraint_findings(rows: Iterable[Any], has_prior: bool = True) -> tuple[list[Finding], list[Finding]]:
    """(failing, not evaluable) findings of constraint rows (``ConstraintCheck`` records or their dicts)."""
    failing: list[Finding] = []
    missing: list[Finding] = []
    for r in rows:
        get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k))
        status = get("status")
        if status not in ("FAIL", "NOT_EVALUABLE"):
            continue
        value, limit, comparator = get("value"), get("limit"), str(get("comparator"))
        margin = None if value is None or limit is None else _margin(comparator, float(value), float(limit))
        finding = Finding(
            kind=FindingKind.CONSTRAINT, subject=str(get("roi") or get("organ")),
            check=f"{get('metric')} on {quantity_label(str(get('quantity')), has_prior)}", comparator=comparator, value=value, limit=limit,
            margin=margin, unit=str(get("unit")), status=str(status), value_text=constraint_value_text(value, limit, comparator, str(status)),
            detail=f"{get('source')}: {get('endpoint')}" if status == "FAIL" else str(get("reason")),
        )
        (failing if status == "FAIL" else missing).append(finding)
    return failing, missing


def coverage_findings(indices: Iterable[dict[str, Any]]) -> tuple[list[Finding], list[Finding]]:
    """(not met, undefined) findings of the protocol coverage rules of ``results.json``'s ``indices``."""
    from dosimetry.indices.definitions import COVERAGE_TOLERANCE_PCT

    failing: list[Finding] = []
    missing: list[Finding] = []
    for entry in indices:
        for cov in entry.get("coverage", []):
            if cov["status"] == "pass":
                continue
            value, limit = cov["covered_pct"], cov["required_volume_pct"]
            finding = Finding(
                kind=FindingKind.COVERAGE, subject=entry["target"], check=f"{cov['metric']} on {entry['quantity']}",
                comparator=">=", value=value, limit=limit,
                margin=None if value is None else value - limit, unit="%", status=cov["status"],
                value_text="-" if value is None else explaining_digits(value, limit, False, COVERAGE_TOLERANCE_PCT, at_least=2),
                detail=f"{cov['rule']}; tolerance {COVERAGE_TOLERANCE_PCT:g} percentage points",
            )
            (failing if cov["status"] == "fail" else missing).append(finding)
    return failing, missing


# ---------------------------------------------------------------------------------------- warnings

_PREFIXES = ("discovery warning: ",)
_DISCOVERY_COVER = re.compile(r"^(?:(?P<course>prior): )?discovery warning: .*dose grid does not cover ROI '(?P<roi>[^']+)'")
_EXACT_OUTSIDE = re.compile(r"^ROI '(?P<roi>[^']+)': .* lies outside the dose grid")
#: Warnings that change no reported number: (pattern, why). Anything else is REVIEW.
_NOTE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"ROI 'External'"),  # the body outline is neither a target nor an organ at risk
    re.compile(r"bounding-box estimate"),  # discovery's estimate; the DVH engine reports the exact volume
    re.compile(r"^no prior course: "),  # the banner states "current course only, no prior dose summed"
)


def _key(text: str) -> str:
    for prefix in _PREFIXES:
        text = text.replace(prefix, "")
    return " ".join(text.split()).casefold()


def classify_warnings(warnings: Sequence[str]) -> tuple[ClassifiedWarning, ...]:
    """De-duplicated warnings, REVIEW first. The same text with or without a ``discovery warning:``
    prefix is one warning; discovery's bounding-box estimate that a dose grid misses a current-course
    ROI is dropped when the DVH engine reports the exact volume outside for that ROI."""
    exact = {m.group("roi") for w in warnings if (m := _EXACT_OUTSIDE.match(w))}
    seen: set[str] = set()
    out: list[ClassifiedWarning] = []
    for w in warnings:
        m = _DISCOVERY_COVER.match(w)
        if m and m.group("course") is None and m.group("roi") in exact:
            continue
        key = _key(w)
        if key in seen:
            continue
        seen.add(key)
        severity = WarningSeverity.NOTE if any(p.search(w) for p in _NOTE_PATTERNS) else WarningSeverity.REVIEW
        out.append(ClassifiedWarning(severity, w))
    order = {WarningSeverity.REVIEW: 0, WarningSeverity.NOTE: 1}
    return tuple(sorted(out, key=lambda c: order[c.severity]))


# ----------------------------------------------------------------------------------------- verdict


def summation_scope(has_prior: bool, residual: float | None, alpha_beta_gy: float, method: str, recovery: str = "") -> str:
    """What the organ-at-risk checks were evaluated on, in words (``residual`` None: the prior course
    enters through the recovery model described by ``recovery``)."""
    if not has_prior:
        return NO_PRIOR_SCOPE
    prior = f"{residual:g} x prior course" if residual is not None else f"prior course with recovery {recovery or '(see results)'}"
    return f"current course + {prior} (EQD2, alpha/beta {alpha_beta_gy:g} Gy, {method} summation)"


def plan_verdict(
    constraint_rows: Iterable[Any], indices: Iterable[dict[str, Any]], warnings: Sequence[str], scope: str
) -> PlanVerdict:
    """The :class:`PlanVerdict` of constraint rows, ``results.json``-style indices and warnings."""
    failing, missing = constraint_findings(constraint_rows, has_prior=scope != NO_PRIOR_SCOPE)
    cov_failing, cov_missing = coverage_findings(indices)
    failures = (*failing, *cov_failing)
    not_evaluable = (*missing, *cov_missing)
    verdict = Verdict.VIOLATION if failures else Verdict.NOT_EVALUABLE if not_evaluable else Verdict.PASS
    return PlanVerdict(verdict, scope, tuple(failures), tuple(not_evaluable), classify_warnings(warnings))
