"""The clinical report of ``dosimetry analyze``: one self-contained HTML page from the results.

Reading order: the verdict banner (pass / violation / not evaluable, every failing constraint and
coverage rule with value, limit and margin, and what dose was evaluated), the warnings grouped by
severity, then the sections of :data:`SECTIONS` in order.

**Adding a section**: write a function ``(ctx: ReportContext) -> Section | Sequence[Section] | None``
in its own module (``None`` or an empty sequence leaves it out) and add it to :data:`SECTIONS` at the place it should appear.
A section that meets a problem while drawing appends it to ``ctx.drawing_warnings``; the page and
``results.json`` then list it with the other warnings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dosimetry.errors import ArgumentError
from dosimetry.patient.verdict import (
    PlanVerdict,
    WarningSeverity,
    plan_verdict,
    summation_scope,
)
from dosimetry.report import figure_sections, plan_data, sections
from dosimetry.report.content import (
    Banner,
    Item,
    PendingFigure,
    Report,
    RowStyle,
    Section,
    Table,
    WarningGroup,
)
from dosimetry.report.html import render_html
from dosimetry.report.planning_system import convention_sensitivity_section, planning_system_section
from dosimetry.report.registration import registration_sections
from dosimetry.report.reirradiation import reirradiation_sections

if TYPE_CHECKING:
    from dosimetry.patient.dvhs import PatientDvhs
    from dosimetry.patient.maps import PatientMaps
    from dosimetry.report.overlay_scene import EarlyOverlays
    from dosimetry.report.render_process import FigureRenderer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    html: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ReportContext:
    """What a section is built from: the ``results.json`` document (every number shown is the same
    as there), the patient's maps and DVHs, a list collecting problems met while drawing, and where
    the figures are drawn (``renderer``; None: in this process as the sections ask for them), and the
    overlays' CT scene when it was started in the render processes before the analysis
    (``early_overlays``)."""

    results: dict[str, Any]
    maps: PatientMaps
    dvhs: PatientDvhs
    drawing_warnings: list[str] = field(default_factory=list)
    renderer: FigureRenderer | None = None
    early_overlays: EarlyOverlays | None = None


SectionBuilder = Callable[[ReportContext], "Section | Sequence[Section] | None"]

#: The report's sections in reading order (after the banner and warnings). Extend here.
SECTIONS: list[tuple[str, SectionBuilder]] = [
    ("plan", lambda ctx: plan_data.plan_section(ctx.results, ctx.maps, ctx.drawing_warnings)),
    ("dose-levels", lambda ctx: sections.dose_level_section(ctx.results)),
    ("constraints", lambda ctx: sections.constraint_section(ctx.results)),
    ("reirradiation", lambda ctx: reirradiation_sections(ctx.results)),
    ("registration", lambda ctx: registration_sections(ctx.results)),
    ("indices", lambda ctx: sections.indices_section(ctx.results)),
    ("dvh", lambda ctx: figure_sections.dvh_section(ctx.maps, ctx.dvhs, ctx.results, ctx.renderer)),
    ("overlays", lambda ctx: figure_sections.overlay_section(ctx.maps, ctx.dvhs, ctx.results, ctx.drawing_warnings, ctx.renderer,
                                                                   ctx.early_overlays)),
    ("metrics", lambda ctx: sections.metrics_section(ctx.results, ctx.maps, ctx.dvhs)),
    ("planning-system", lambda ctx: [s for s in (planning_system_section(ctx.results), convention_sensitivity_section(ctx.results)) if s]),
    ("signoff", lambda ctx: sections.signoff_section(ctx.results)),
    ("provenance", lambda ctx: sections.provenance_section(ctx.results)),
]


def document_verdict(results: dict[str, Any], extra_warnings: tuple[str, ...] = ()) -> PlanVerdict:
    """The :class:`PlanVerdict` of a ``results.json`` document (the same computation as
    :meth:`dosimetry.patient.AnalysisResults.verdict`), with warnings met while drawing."""
    p, c = results["parameters"], results["constraints"]
    recovery = str((results.get("recovery") or {}).get("description", ""))
    scope = summation_scope(results["alignment"] is not None, p["residual"], c["alpha_beta_gy"], p["summation_method"], recovery)
    return plan_verdict(c["rows"], results["indices"], (*results["warnings"], *extra_warnings), scope)


def banner(verdict: PlanVerdict) -> Banner:
    rows, styles = [], []
    for f in (*verdict.failures, *verdict.not_evaluable):
        unit = f" {f.unit}" if f.unit else ""
        rows.append((
            {"FAIL": "FAIL", "fail": "NOT MET", "NOT_EVALUABLE": "NOT EVALUABLE", "undefined": "NOT EVALUABLE"}.get(f.status, f.status),
            f.kind.value, f.subject, f.check,
            "-" if f.value is None else f"{f.value_text}{unit}",
            "-" if f.limit is None else f"{f.comparator} {f.limit:g}{unit}",
            "-" if f.margin is None else f"{f.margin_text}{unit}",
            f.detail,
        ))
        styles.append(RowStyle.FAIL if f in verdict.failures else RowStyle.NOT_EVALUABLE)
    findings = None
    if rows:
        findings = Table(
            "Failing and not evaluable checks", ("status", "kind", "structure", "check", "value", "limit", "margin", "source"),
            tuple(rows), tuple(styles), nowrap_columns=("value", "limit", "margin"), note="Margin: limit minus value for an upper limit, value minus limit for a lower one "
            "(negative: violated by that much).",
        )
    return Banner(verdict.verdict.value, verdict.headline(), verdict.scope, findings)


def warning_groups(verdict: PlanVerdict) -> tuple[WarningGroup, ...]:
    return (
        WarningGroup("review", "Warnings to review (may change a reported number)", verdict.warnings_of(WarningSeverity.REVIEW)),
        WarningGroup("note", "Notes (no reported number changes)", verdict.warnings_of(WarningSeverity.NOTE)),
    )


def report_title(results: dict[str, Any], maps: PatientMaps | None = None) -> tuple[str, str]:
    """Title and subtitle: the modality and ion species of the current course, re-irradiation only with a prior course."""
    patient = results["patient"]
    current = results["courses"][0]
    modality = plan_data.modality_name(results, maps)
    kind = "re-irradiation check" if results["alignment"] is not None else "plan check (current course only)"
    title = f"Dosimetry report: patient {patient['patient_id']} {patient['patient_name']}".strip()
    subtitle = f"{modality} {kind}; plan {current['plan_label']}; generated {results['generated_utc']}"
    return title, subtitle


def _resolved(section: Section) -> Section:
    """``section`` with each :class:`PendingFigure` replaced by its Figure (waiting for its PNG)."""
    if not any(isinstance(item, PendingFigure) for item in section.items):
        return section
    items: tuple[Item, ...] = tuple(item.resolve() if isinstance(item, PendingFigure) else item for item in section.items)
    return Section(section.heading, items, section.section_id)


class _LateOutputs(dict[str, Any]):
    """A results.json document whose ``outputs`` are asked for from ``outputs`` when a section first
    reads them (``Patient.write`` writes the files then: the provenance section comes after the
    figure sections, whose figures are drawn meanwhile)."""

    def __init__(self, document: dict[str, Any], outputs: Callable[[], list[dict[str, Any]]]) -> None:
        if "outputs" in document:
            raise ArgumentError("build_report: results holds outputs and outputs= is given; give one")
        super().__init__(document)
        self._outputs = outputs

    def __missing__(self, key: str) -> Any:
        if key != "outputs":
            raise KeyError(key)
        self["outputs"] = self._outputs()
        return self["outputs"]


def build_report(
    results: dict[str, Any], maps: PatientMaps, dvhs: PatientDvhs, *, renderer: FigureRenderer | None = None,
    early_overlays: EarlyOverlays | None = None,
    outputs: Callable[[], list[dict[str, Any]]] | None = None,
) -> Page:
    """The report page from the results.json document and the patient's maps and DVHs;
    ``Page.warnings`` are the problems met while drawing (already on the page). ``renderer``: where
    the figures are drawn (:class:`~dosimetry.report.render_process.RenderProcesses`; None: here, one
    after the other); the PNGs are the same bytes either way. ``early_overlays``: the overlays' CT scene started in the render processes before the analysis
    (:func:`~dosimetry.report.overlay_scene.start_early_overlays`). ``outputs``: gives ``results["outputs"]``
    (absent from ``results`` then) when a section first reads it (:class:`_LateOutputs`)."""
    if outputs is not None:
        results = _LateOutputs(results, outputs)
    ctx = ReportContext(results, maps, dvhs, renderer=renderer, early_overlays=early_overlays)
    built = []
    for name, builder in SECTIONS:
        section = builder(ctx)
        if isinstance(section, Section):
            built.append(section)
        elif section is not None:
            built.extend(section)
        logger.debug("report section %s built", name)
    built = [_resolved(section) for section in built]
    extra = tuple(dict.fromkeys(ctx.drawing_warnings))
    verdict = document_verdict(results, extra)
    title, subtitle = report_title(results, maps)
    page = Report(
        title=title, subtitle=subtitle, sections=tuple(built),
        warnings=tuple(w.text for w in verdict.warnings),
        banner=banner(verdict), warning_groups=warning_groups(verdict),
    )
    return Page(render_html(page), extra)
