"""The verdict (``dosimetry.patient.verdict``) and its banner on the page (``dosimetry.report``).

Oracles: hand arithmetic on hand-written check rows (margins, rounded values), and the literal
texts of warnings written out here (de-duplication and severity)."""

from __future__ import annotations

from typing import Any

from dosimetry.patient.verdict import (
    NO_PRIOR_SCOPE,
    Verdict,
    WarningSeverity,
    classify_warnings,
    constraint_value_text,
    explaining_digits,
    plan_verdict,
)
from dosimetry.report import Report, render_html
from dosimetry.report.builder import banner, warning_groups


def _row(roi: str, status: str, value: float | None, limit: float = 50.0, comparator: str = "<=") -> dict[str, Any]:
    return {"source": "emami", "roi": roi, "organ": roi.lower(), "endpoint": "Blindness", "quantity": "eqd2_cumulative",
            "metric": "Max[Gy]", "comparator": comparator, "limit": limit, "value": value, "unit": "Gy", "status": status,
            "ntcp": None, "reason": "no DVH" if value is None else ""}


def _coverage(target: str, covered_pct: float, status: str, isodose: int = 90) -> dict[str, Any]:
    return {"target": target, "quantity": "rbe_weighted", "coverage": [{
        "rule": f"{target} covered by the {isodose} % isodose", "metric": f"V{isodose}%", "isodose_pct": float(isodose),
        "required_volume_pct": 100.0, "source": "protocol", "covered_cc": 1.0, "covered_pct": covered_pct,
        "status": status, "reason": ""}]}


def test_violation_names_every_failing_check_with_its_margin() -> None:
    """Oracle: margin = limit - value by hand (50 - 64.99 = -14.99 Gy), covered 99.9846 % against a
    required 100 % with a 0.01-point tolerance is a miss that two decimals (99.98) already explain."""
    rows = [_row("OpticChiasm", "FAIL", 64.99), _row("OpticNrv_L", "FAIL", 62.61), _row("BrainStem", "PASS", 14.7)]
    indices = [_coverage("PTV", 99.9845692298895, "fail"), _coverage("CTV", 99.99999999998866, "pass", 95)]
    verdict = plan_verdict(rows, indices, [], "current course + 0.3 x prior course")
    assert verdict.verdict is Verdict.VIOLATION
    assert verdict.headline() == "VIOLATION: 2 constraint(s) failed, 1 coverage rule(s) not met"
    chiasm, nerve = verdict.failing_constraints
    assert (chiasm.subject, round(chiasm.margin or 0, 6)) == ("OpticChiasm", -14.99)
    assert (nerve.subject, round(nerve.margin or 0, 6)) == ("OpticNrv_L", -12.61)
    (ptv,) = verdict.failing_coverage
    assert ptv.value_text == "99.98" and ptv.subject == "PTV" and "tolerance 0.01" in ptv.detail
    assert verdict.worst is chiasm
    text = "\n".join(verdict.lines())
    assert "FAIL OpticChiasm: Max[Gy] on eqd2_cumulative = 64.99 Gy, limit <= 50 Gy, margin -14.99 Gy" in text
    assert "NOT MET PTV: V90% on rbe_weighted = 99.98 %" in text


def test_pass_and_not_evaluable() -> None:
    """Oracle: the definitions (nothing fails and nothing is missing; nothing fails but a row has no value)."""
    assert plan_verdict([_row("BrainStem", "PASS", 10.0)], [], [], NO_PRIOR_SCOPE).verdict is Verdict.PASS
    v = plan_verdict([_row("BrainStem", "PASS", 10.0), _row("Chiasm", "NOT_EVALUABLE", None)], [], [], NO_PRIOR_SCOPE)
    assert v.verdict is Verdict.NOT_EVALUABLE and len(v.not_evaluable) == 1 and not v.failures
    assert v.scope == "current course only, no prior dose summed"


def test_explaining_digits_never_prints_a_misleading_value() -> None:
    """Oracle: by hand, 99.9846 rounds to 100.0 at one decimal (which would read as met) and to 99.98 at two."""
    assert explaining_digits(99.9846, 100.0, False, 0.01) == "99.98"
    assert explaining_digits(99.99999999, 100.0, True, 0.01) == "100.0"
    assert explaining_digits(99.994, 100.0, True, 0.01) == "100.0"  # 99.994 + 0.01 >= 100: met, as printed
    assert explaining_digits(99.9899, 100.0, False, 0.01) == "99.9899"  # 99.99 + 0.01 would read as met


def test_warnings_are_deduplicated_and_grouped_by_severity() -> None:
    """Oracle: the warning texts written out here; the discovery estimate for the current course's External is
    superseded by the DVH engine's exact volume, the prior course's estimate is kept (a note)."""
    warnings = [
        "discovery warning: RD.dcm: dose grid does not cover ROI 'External' of RS.dcm: 673.9 cc of its 4127.3 cc bounding box "
        "lie outside the grid (bounding-box estimate; the DVH engine reports the exact volume outside)",
        "prior: discovery warning: RD.dcm: dose grid does not cover ROI 'External' of RS.dcm: 548.9 cc (bounding-box estimate)",
        "119.91 cc (4441 voxels) of the current dose grid lie outside the prior dose grid; prior dose taken as 0 there",
        "discovery warning: RP.dcm: ApprovalStatus is UNAPPROVED, not APPROVED",
        "RP.dcm: ApprovalStatus is UNAPPROVED, not APPROVED",
        "ROI 'External': 334.9 cc of 2672 cc lies outside the dose grid",
    ]
    classified = classify_warnings(warnings)
    review = [c.text for c in classified if c.severity is WarningSeverity.REVIEW]
    note = [c.text for c in classified if c.severity is WarningSeverity.NOTE]
    assert review == [warnings[2], warnings[3]]
    assert note == [warnings[1], warnings[5]]


def test_banner_comes_first_on_the_page_with_the_failing_rows() -> None:
    """Oracle: the page's own markup, read back as text (the banner precedes warnings and sections)."""
    verdict = plan_verdict([_row("OpticChiasm", "FAIL", 64.99)], [], ["prior dose taken as 0 there"], NO_PRIOR_SCOPE)
    page = render_html(Report("t", "s", (), banner=banner(verdict), warning_groups=warning_groups(verdict)))
    assert page.index('id="verdict"') < page.index('id="warnings"')
    assert 'data-verdict="violation"' in page
    assert "<td>OpticChiasm</td>" in page and '<td class="n">-14.99 Gy</td>' in page
    assert "Dose evaluated: current course only, no prior dose summed" in page
    assert 'data-severity="review"' in page and 'data-severity="note"' not in page  # empty groups are left out


def test_titles_and_labels_follow_modality_dose_type_and_prior() -> None:
    """Oracle: the course records written here (radiation type, DoseType) and the DICOM meaning of DoseType
    EFFECTIVE (RBE-weighted, Gy(RBE)); a photon plan is never titled carbon-ion, no prior means no re-irradiation."""
    from dosimetry.indices import ReferenceLevel
    from dosimetry.quantities import DoseQuantity
    from dosimetry.report.builder import report_title

    def results(types: list[str], dose_type: str, prior: bool) -> dict[str, Any]:
        return {"patient": {"patient_id": "p", "patient_name": ""}, "generated_utc": "t",
                "alignment": {"method": "same frame"} if prior else None,
                "courses": [{"radiation_types": types, "plan_label": "X", "dose_type": dose_type}]}

    assert report_title(results(["PHOTON"], "PHYSICAL", False))[1].startswith("Photon plan check (current course only)")
    assert report_title(results(["PROTON"], "EFFECTIVE", True))[1].startswith("Proton re-irradiation check")
    assert ReferenceLevel.physical(55.0).label == "physical 55 Gy"
    assert ReferenceLevel.physical(55.0, rbe_weighted=True).label == "RBE-weighted 55 Gy(RBE)"
    bed = ReferenceLevel.lq(DoseQuantity.BED, 55.0, 22, 9.0)
    assert bed.label == "BED9 70.28 Gy (55 Gy in 22 fx)"  # 55 (1 + 2.5/9) = 70.2777...


def test_a_failing_constraint_is_never_printed_as_if_it_held() -> None:
    """Oracle: hand arithmetic. 50.004 Gy against <= 50 Gy fails by 0.004 Gy; two decimals (50.00) would read as
    holding, three (50.004) explain the FAIL; likewise 19.996 against >= 20 (20.00 would read as met)."""
    from dosimetry.report.sections import constraint_section

    assert explaining_digits(50.004, 50.0, False, comparator="<=", at_least=2) == "50.004"
    assert explaining_digits(49.996, 50.0, True, comparator="<=", at_least=2) == "50.00"  # holds, and 50.00 <= 50
    assert explaining_digits(50.0, 50.0, False, comparator="<", at_least=2) == "50.00"  # 50.00 < 50 is false: a FAIL
    assert explaining_digits(19.996, 20.0, False, comparator=">=", at_least=2) == "19.996"
    assert constraint_value_text(50.004, 50.0, "<=", "FAIL") == "50.004"  # also check's re-irradiation limit lines
    assert constraint_value_text(50.004, 50.0, "<=", "PASS") == "50.00" and constraint_value_text(None, 50.0, "<=", "FAIL") == "-"
    verdict = plan_verdict([_row("OpticChiasm", "FAIL", 50.004)], [], [], NO_PRIOR_SCOPE)
    (chiasm,) = verdict.failing_constraints
    assert chiasm.value_text == "50.004" and chiasm.margin_text == "-0.004"
    assert "= 50.004 Gy, limit <= 50 Gy, margin -0.004 Gy" in chiasm.text()
    section = constraint_section({"constraints": {"rows": [_row("OpticChiasm", "FAIL", 50.004)], "alpha_beta_gy": 2.0, "quantity": "eqd2_cumulative"}})
    table = next(i for i in section.items if hasattr(i, "rows"))
    assert "50.004 Gy" in table.rows[0]


def test_worst_failure_ranks_by_margin_relative_to_the_limit_across_units() -> None:
    """Oracle: hand arithmetic. 3 Gy over a 10 Gy limit is 30 % beyond it; 5 cc over a 1000 cc limit
    0.5 %: the Gy check is the worst although its margin number (-3) is larger than -5 (the batch
    ranked by the raw number across units)."""
    from dosimetry.patient.verdict import relative_margin
    from pipelines.verdicts import _worst

    gy = {"kind": "constraint", "margin": -3.0, "limit": 10.0, "subject": "Chiasm"}
    cc = {"kind": "constraint", "margin": -5.0, "limit": 1000.0, "subject": "Liver"}
    assert abs(relative_margin(-3.0, 10.0) + 0.3) < 1e-12
    assert relative_margin(-0.02, 0.0) == -0.02
    assert _worst([cc, gy]) is gy
