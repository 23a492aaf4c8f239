"""``dosimetry check PATIENT_DIR``: organ-at-risk checks on the cumulative EQD2 (Emami, LKB NTCP, protocol).

Inputs: the current course in PATIENT_DIR (RT Dose + RT (Ion) Plan + RT Structure Set; when
PATIENT_DIR holds sub-folders ``current`` and ``prior`` and --prior is not given, those are the two
courses) and optionally the prior course (--prior DIR: RT Dose + RT Plan). The prior dose is
brought onto the current dose grid (same frame; a Spatial Registration from --registration or
found in either folder; or --assume-same-position), both courses are converted voxel by voxel to
EQD2 with alpha/beta = --alpha-beta (default 2 Gy) and added as current + r x prior
(r = --residual, default 0.3; or the recovery models of --recovery / --organ-recovery / the protocol
file, with the interval from the DICOM dates or --interval-months). DVHs of the organs come from the DVH engine on that map.

The text output starts with the verdict (:mod:`dosimetry.patient.verdict`): every failing
constraint and protocol coverage rule (V95% CTV, V90% PTV) with value, limit and margin, and the
warnings de-duplicated by severity.

With a prior course the cumulative re-irradiation limits (dosimetry/data/reirradiation_limits.json)
are checked too. Exit code 0 when nothing fails, 2 when any Emami check, protocol constraint or
re-irradiation limit FAILs (coverage rules are reported, not part of the exit code: they are plan
quality, see ``analyze --fail-on-violation``), 1 on errors.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from dosimetry.cli.commands._patient_options import (
    add_patient_options,
    load_patient_from_args,
)

if TYPE_CHECKING:
    from dosimetry.constraints.evaluate import ConstraintReport


EXIT_FAIL = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "check",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_patient_options(parser, patient_help="current course folder (or folder with current/ and prior/)")
    parser.add_argument("--alpha-beta", type=float, default=2.0, metavar="GY", help="alpha/beta of the EQD2 maps (default 2 Gy)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run)


def _report_text(report: ConstraintReport, context: dict[str, Any], verdict_lines: list[str]) -> str:
    from dosimetry.constraints.metrics import parse_constraint
    from dosimetry.constraints.partial_volume import Status
    from dosimetry.patient.verdict import constraint_value_text, quantity_label

    if not context["prior"]:
        prior_text = "current course only, no prior dose summed"
    elif context["residual"] is not None:
        prior_text = f"residual {context['residual']:g} of the prior course"
    else:
        prior_text = f"prior course counted with recovery {context['recovery']}"
    lines = [
        *verdict_lines,
        "",
        f"Organ-at-risk checks on {quantity_label(report.quantity.value, bool(context['prior']))} "
        f"(alpha/beta {report.alpha_beta_gy:g} Gy); {prior_text}",
        f"Rule: {report.rule_description}",
        f"Tables: {report.emami_version}, {report.burman_version}",
        f"DVH end caps: {context['end_cap']} convention (--end-cap)",
        "",
        f"{'ROI':<22}{'organ':<20}{'endpoint':<28}{'status':<15}{'Dmax':>8}{'limit':>8}{'margin':>8}{'D0.03cc':>9}{'D1/3':>8}{'D2/3':>8}{'D3/3':>8}{'Dmean':>8}{'NTCP':>8}",
    ]
    for organ in report.organs:
        s = organ.summary
        for e in organ.endpoints:
            def f(v: float | None) -> str:
                return "-" if v is None else f"{v:.2f}"

            # Dmax and margin as the report and the verdict print them (a FAIL never reads as holding)
            dmax = constraint_value_text(e.max_dose_gy, e.limit_gy, "<=", e.status.value)
            decimals = len(dmax.split(".")[1]) if "." in dmax else 2
            margin = "-" if e.margin_gy is None else f"{e.margin_gy:.{decimals}f}"
            ntcp = "-" if e.ntcp is None else f"{100 * e.ntcp:.1f}%" + ("!" if e.ntcp_flagged else "")
            lines.append(
                f"{organ.mapping.roi_name[:21]:<22}{e.organ.value[:19]:<20}{e.endpoint_id[:27]:<28}{e.status.value:<15}"
                f"{dmax:>8}{f(e.limit_gy):>8}{margin:>8}{f(s.d_0_03cc_gy if s else None):>9}"
                f"{f(s.d_hottest_third_gy if s else None):>8}{f(s.d_hottest_two_thirds_gy if s else None):>8}"
                f"{f(s.d_whole_gy if s else None):>8}{f(s.mean_gy if s else None):>8}{ntcp:>8}"
            )
            if e.status is not Status.PASS:
                lines.append(f"{'':<22}  {e.reason}")
    if report.protocol:
        lines += ["", f"Protocol {report.protocol_source}:"]
        for p in report.protocol:
            # the report's and the verdict's value text (dosimetry.patient.verdict.constraint_value_text)
            parsed = parse_constraint(p.constraint)
            value = "-" if p.value is None else f"{constraint_value_text(p.value, parsed.limit, parsed.op, p.status.value)} {p.unit}"
            lines.append(f"  line {p.line}: {p.structure} ({p.roi_name or 'absent'}) {p.constraint} on {p.quantity.value}: {p.status.value} [{value}] {p.reason}")
    if report.unmapped:
        lines += ["", "ROIs not checked (not mapped to an Emami organ):"]
        lines += [f"  {m.roi_name}: {m.reason}" for m in report.unmapped]
    if report.non_organs:
        lines += ["", "Non-organ ROIs: " + ", ".join(f"{m.roi_name} ({m.category.value})" for m in report.non_organs)]
    lines += [
        "",
        "Doses in Gy of the quantity above. D1/3, D2/3, D3/3: minimum dose to the hottest third, two thirds and "
        "whole organ; limit: Emami TD5/5 at the effective volume; NTCP: LKB with Burman's parameters, ! above 5 %.",
        "Exit code 2 when any check FAILs.",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    # Loading, alignment, the maps and the checks are the library's (dosimetry.load_patient), as in ``analyze``.
    import json

    patient = load_patient_from_args(args, alpha_beta_late_gy=args.alpha_beta)
    maps = patient.patient_maps
    folders, current, structure_set = maps.folders, maps.current, maps.structure_set
    context: dict[str, Any] = {
        "folders": folders.how,
        "current": {
            "folder": str(folders.current),
            "dose": [str(p) for p in current.dose_paths],
            "plan": str(current.plan.source_path),
            "fractions": current.plan.fractions_planned,
            "dose_type": current.dose.dose_type.value,
            "structure_set": str(structure_set.source_path),
            "frame_of_reference_uid": current.dose.frame_of_reference_uid,
        },
        "prior": None,
        "residual": maps.residual,
        "recovery": maps.recovery.describe(),
        "end_cap": patient.end_cap.value,
    }
    if maps.prior is not None and maps.aligned is not None:
        prior, aligned = maps.prior, maps.aligned
        cumulative = maps.cumulative[maps.eqd2_late_cumulative_key]
        context["prior"] = {
            "folder": str(folders.prior),
            "dose": [str(p) for p in prior.dose_paths],
            "plan": str(prior.plan.source_path),
            "fractions": prior.plan.fractions_planned,
            "dose_type": prior.dose.dose_type.value,
            "frame_of_reference_uid": prior.dose.frame_of_reference_uid,
            "alignment": aligned.method.value,
            "transform": aligned.transform_description,
            "registration_source": maps.registration_source,
            "uncovered_volume_cc": aligned.uncovered_volume_cc,
            "summation_method": cumulative.method.value,
        }
    from dosimetry.patient.records import record_dict
    from dosimetry.patient.verdict import constraint_value_text

    report = patient.check(args.protocol, args.mapping)
    uncertainty = patient.registration_uncertainty(args.protocol, args.mapping)
    limit_rows, limit_warnings = patient.reirradiation_limits()
    limits_fail = any(r.status == "FAIL" for r in limit_rows)
    verdict = patient.results(args.protocol, args.mapping).verdict()
    if args.json:
        data = report.to_dict()
        data["verdict"] = verdict.to_dict()
        data["reirradiation_limits"] = [record_dict(r) for r in limit_rows]
        data["warnings"] = [*data["warnings"], *limit_warnings]
        data["inputs"] = context
        data["registration_uncertainty"] = None if uncertainty is None else record_dict(uncertainty)
        data["parameters"] = {
            "alpha_beta_gy": args.alpha_beta,
            "residual": maps.residual,
            "recovery": maps.recovery.describe(),
            "interval": None if maps.interval is None else maps.interval.to_dict(),
            "dvh_bin_width_gy": patient.dvh_bin_width_gy,
            "end_cap": patient.end_cap.value,
            "name_mapping": str(args.mapping) if args.mapping else "built-in TG-263 synonyms",
            "protocol": str(args.protocol) if args.protocol else None,
        }
        print(json.dumps(data, indent=2))
    else:
        print(_report_text(report, context, verdict.lines()))
        if uncertainty is not None:
            print(
                f"\nRegistration uncertainty ({uncertainty.mapping}; prior dose shifted {uncertainty.margin_mm:g} mm along +-x/y/z): "
                f"{len(uncertainty.uncertain)} of {len(uncertainty.rows)} cumulative checks UNCERTAIN"
            )
            for u in uncertainty.uncertain:
                shown = constraint_value_text(u.value, u.limit, u.comparator, u.status)
                spread = "-" if u.spread_low is None or u.spread_high is None else f"{u.spread_low:.2f}-{u.spread_high:.2f}"
                limit = "-" if u.limit is None else f"{u.limit:g}"
                print(f"  UNCERTAIN {u.roi}: {u.metric} {shown} {u.unit} ({u.status}), {spread} {u.unit} "
                      f"within the margin (worst {u.worst_direction}) vs {u.comparator} {limit} {u.unit}")
        if limit_rows:
            print("\nCumulative re-irradiation limits (each course's own BED/EQD2, no recovery discount; the metric per row):")
            for r in limit_rows:
                value = constraint_value_text(r.value, r.limit, r.comparator, r.status)
                print(f"  {r.roi}: {r.endpoint}: {r.metric} {value} {r.unit} {r.comparator} {r.limit:g}: {r.status}")
        for warning in limit_warnings:
            print(f"  warning: {warning}")
    return EXIT_FAIL if (report.any_fail or limits_fail) else 0
