"""``dosimetry dvh``: DVH metrics of RT Structure Set ROIs on an RT Dose grid (no CT needed).

Output (``--json FILE`` or ``--json -`` for stdout)::

    {"dose": {"source", "sop_instance_uid", "dose_type", "summation_type", "units",
              "frame_of_reference_uid", "grid": {...}, "warnings": [...]},
     "structures_source": ..., "end_cap": ..., "bin_width_gy": ..., "prescription_gy": ...,
     "structures": [{"name", "number", "interpreted_type", "volume_cc", "volume_in_dose_grid_cc",
                     "volume_outside_dose_grid_cc", "metrics": {"<metric as given>": value | null},
                     "metric_errors": {"<metric>": "reason"}, "error": "reason" (only when the ROI
                     has no DVH), "warnings": [...]}]}

A metric that cannot be evaluated on one ROI (for example D2cc[Gy] of a 1 cc ROI) gets ``null`` in "metrics" and its reason in "metric_errors"; an ROI
without a DVH (no closed contours, entirely outside the dose grid) gets ``null`` volumes/metrics
and the reason in "error". Neither aborts the command; each is also logged as a warning on stderr
and the exit code stays 0. Malformed metric strings, relative metrics (D95%[%], V95%[%]) without
--prescription, unknown --roi names, unreadable files and
mismatched frames of reference abort with exit code 1.

``--csv FILE`` writes one row per ROI: name, number, volumes, then one column per metric (empty
when not evaluable), then ``warnings``: every warning that may change that ROI's numbers, joined by
`` | `` (the ROI's own DVH warnings, the structure-set warnings naming its ROI number, e.g. a
closed contour of 2 points that was dropped, and the dose file's and the structure set's general
warnings). The same warnings follow the text table on stdout, are logged on stderr, and are in the
JSON ("dose.warnings", "structure_set_warnings", each structure's "warnings").
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosimetry.cli.commands._lazy import LazyChoices, LazyValue, set_lazy_choices
from dosimetry.errors import (
    ArgumentError,
    ConsistencyError,
    GeometryError,
    MetricError,
    OutputError,
)

if TYPE_CHECKING:
    from dosimetry.dose import DoseGrid
    from dosimetry.dvh import Dvh, EndCapConvention
    from dosimetry.structures import Roi


# The DVH engine (numpy) and the loaders (pydicom) are imported by the handler; the parser names the
# end-cap conventions without importing them.
_END_CAPS = "dosimetry.dvh.convention"

DEFAULT_METRICS = (
    "Min[Gy]",
    "Max[Gy]",
    "Mean[Gy]",
    "D99%[Gy]",
    "D98%[Gy]",
    "D95%[Gy]",
    "D50%[Gy]",
    "D5%[Gy]",
    "D2%[Gy]",
    "D1%[Gy]",
    "D0.03cc[Gy]",
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "dvh",
        description=(
            "Compute DVHs of RT Structure Set ROIs on an RT Dose grid: exact fractional voxel occupancy of the "
            "contours, trilinear dose sampling in boundary voxels, and TG-263 metrics such as D95%[Gy], "
            "D0.03cc[Gy], V20Gy[%], CV20Gy[cc], Mean[Gy]. Without --metric: " + ", ".join(DEFAULT_METRICS) + "."
        ),
    )
    parser.add_argument("--dose", type=Path, required=True, metavar="RD.dcm", help="RT Dose file")
    parser.add_argument(
        "--normalisation-gy", type=float, metavar="GY",
        help="for an RT Dose with DoseUnits RELATIVE: the dose in Gy of a stored relative value of 1 (refused for doses in GY)",
    )
    parser.add_argument("--structures", type=Path, required=True, metavar="RS.dcm", help="RT Structure Set file")
    parser.add_argument("--roi", action="append", metavar="NAME", help="ROI to evaluate (repeatable; default all)")
    parser.add_argument("--metric", action="append", metavar="M", help="TG-263 metric (repeatable), e.g. 'D95%%[Gy]'")
    parser.add_argument("--json", metavar="FILE|-", help="write the results as JSON to FILE, or stdout with '-'")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write one row per ROI with the metrics as CSV")
    parser.add_argument("--prescription", type=float, metavar="GY", help="prescription dose for relative metrics (V95%%, D95%%[%%])")
    parser.add_argument("--bin-width", type=float, default=0.01, metavar="GY", help="DVH bin width in Gy, at most 1 (default 0.01 Gy)")
    set_lazy_choices(
        parser.add_argument(
            "--end-cap",
            default=LazyValue(_END_CAPS, "DEFAULT_END_CAP.value"),
            help="solid between and beyond the contour planes: shape (interpolated between planes, caps following "
            "the trend of the extreme contours), half-slab (half a contour spacing beyond the outermost planes) "
            "or truncated (default: %(default)s; README, 'Between and beyond the contour planes')",
        ),
        LazyChoices(_END_CAPS, "EndCapConvention"),
    )
    parser.add_argument(
        "--supersample", type=int, metavar="N", help="fine pixels per axis in boundary and steep voxels, 1..8 (default: even, sub-pixels of at most ~1.5 mm, 2..4; in boundary voxels at least 3 across the ROI's narrowest in-plane extent, up to 8)"
    )
    parser.add_argument(
        "--compare-tps",
        action="store_true",
        help="also compare, ROI by ROI, with the planning system's DVHs stored in the RT Dose (DVH Sequence): "
        "volume, mean, max and the metrics, ours and theirs, the difference, flags beyond the tolerances of "
        "dosimetry.dvh.planning_system, and which --end-cap reproduces the planning system's volume best",
    )
    parser.add_argument(
        "--convention-spread",
        action="store_true",
        help="also give, per ROI, the volume and every metric under each --end-cap convention, their spread, "
        "and a flag where a dose metric moves by more than 1 Gy or the volume by more than 10 %% "
        "(dosimetry.dvh.sensitivity)",
    )
    parser.set_defaults(handler=run)


def _dose_info(dose: DoseGrid, path: Path) -> dict[str, Any]:
    from dosimetry.dose import DoseType

    grid = dose.grid
    return {
        "source": str(path),
        "sop_instance_uid": dose.sop_instance_uid,
        "dose_type": str(dose.dose_type),
        "summation_type": str(dose.summation_type),
        "units": "GyE (RBE-weighted)" if dose.dose_type is DoseType.EFFECTIVE else "Gy",
        "frame_of_reference_uid": dose.frame_of_reference_uid,
        "max_gy": dose.max_gy,
        "grid": {
            "shape_zyx": list(grid.shape_zyx),
            "spacing_xy_mm": [grid.spacing_x_mm, grid.spacing_y_mm],
            "slice_thickness_mm": sorted({round(float(t), 4) for t in grid.slice_thickness_mm}),
            "bounds_mm": [list(b) for b in grid.bounds_mm()],
        },
        "warnings": list(dose.warnings),
    }


def evaluate_roi(
    dose: DoseGrid,
    roi: Roi,
    metrics: list[str],
    *,
    prescription_gy: float | None,
    bin_width_gy: float,
    end_cap: EndCapConvention,
    supersample: int | None,
) -> dict[str, Any]:
    """The JSON entry of one ROI (see the module docstring)."""
    return evaluate_rois(
        dose, [roi], metrics, prescription_gy=prescription_gy, bin_width_gy=bin_width_gy, end_cap=end_cap,
        supersample=supersample,
    )[0]


def evaluate_rois(
    dose: DoseGrid,
    rois: list[Roi],
    metrics: list[str],
    *,
    prescription_gy: float | None,
    bin_width_gy: float,
    end_cap: EndCapConvention,
    supersample: int | None,
    shared: bool = False,
) -> list[dict[str, Any]]:
    """The JSON entries of several ROIs, in their order, from one
    :func:`~dosimetry.dvh.compute.compute_dvhs` call (the same numbers as one
    :func:`~dosimetry.dvh.compute.compute_dvh` per ROI); ``shared``: the ROIs are shared with a
    forked process where that is safe (:func:`dosimetry.dvh._fork.compute_dvhs_shared`, the same
    numbers)."""
    if shared:
        from dosimetry.dvh._fork import compute_dvhs_shared

        outcomes = compute_dvhs_shared(dose, rois, bin_width_gy=bin_width_gy, end_cap=end_cap, supersample=supersample)
    else:
        from dosimetry.dvh import compute_dvhs

        outcomes = compute_dvhs(dose, rois, bin_width_gy=bin_width_gy, end_cap=end_cap, supersample=supersample)
    return [_entry(outcome.roi, outcome.dvh, outcome.error, metrics, prescription_gy) for outcome in outcomes]


def _entry(
    roi: Roi, dvh: Dvh | None, error: GeometryError | None, metrics: list[str], prescription_gy: float | None
) -> dict[str, Any]:
    import logging

    from dosimetry.dvh import evaluate_metric

    logger = logging.getLogger(__name__)

    entry: dict[str, Any] = {"name": roi.name, "number": roi.number, "interpreted_type": roi.interpreted_type}
    if dvh is None:
        if error is None:
            raise AssertionError(f"ROI {roi.name!r}: neither a DVH nor an error")  # compute_dvhs sets one
        exc = error
        logger.warning("ROI %r: no DVH: %s", roi.name, exc)
        entry.update(
            {
                "volume_cc": None,
                "volume_in_dose_grid_cc": None,
                "volume_outside_dose_grid_cc": None,
                "metrics": {m: None for m in metrics},
                "metric_errors": {m: str(exc) for m in metrics},
                "error": str(exc),
                "warnings": [],
            }
        )
        return entry
    values: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for m in metrics:
        try:
            values[m] = evaluate_metric(dvh, m, prescription_gy=prescription_gy)
        except MetricError as exc:
            values[m] = None
            errors[m] = str(exc)
            logger.warning("ROI %r: %s", roi.name, exc)
    entry.update(
        {
            "volume_cc": dvh.volume_cc,
            "volume_in_dose_grid_cc": dvh.volume_in_dose_grid_cc,
            "volume_outside_dose_grid_cc": dvh.volume_outside_dose_grid_cc,
            "metrics": values,
            "metric_errors": errors,
            "warnings": list(dvh.warnings),
        }
    )
    return entry


def roi_warnings(
    structures: list[dict[str, Any]], dose_warnings: list[str], structure_set_warnings: list[str]
) -> dict[int, list[str]]:
    """Every warning that may change each ROI's numbers, by ROI number: its own DVH warnings, then
    the file warnings naming it or naming no ROI (:func:`dosimetry.roi_warnings.warnings_by_roi`)."""
    from dosimetry.roi_warnings import warnings_by_roi

    by_roi = warnings_by_roi([(s["number"], s["name"]) for s in structures], [*structure_set_warnings, *dose_warnings])
    return {s["number"]: list(dict.fromkeys([*s["warnings"], *by_roi[s["number"]]])) for s in structures}


def _write_csv(path: Path, structures: list[dict[str, Any]], metrics: list[str], warnings: dict[int, list[str]]) -> None:
    from dosimetry.io.csv_cells import csv_writer

    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv_writer(handle)
            writer.writerow(["name", "number", "volume_cc", "volume_outside_dose_grid_cc", *metrics, "warnings"])
            for s in structures:
                row = [s["name"], s["number"], _fmt(s["volume_cc"]), _fmt(s["volume_outside_dose_grid_cc"])]
                row += [_fmt(s["metrics"].get(m)) for m in metrics]
                row.append(" | ".join(warnings[s["number"]]))
                writer.writerow(row)
    except OSError as exc:
        raise OutputError(f"cannot write CSV {path}: {exc}") from exc


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def run(args: argparse.Namespace) -> int:
    import json
    import logging

    from dosimetry.dvh import EndCapConvention, parse_metric
    from dosimetry.io import load_dose, load_structure_set

    metrics = list(args.metric) if args.metric else list(DEFAULT_METRICS)
    parsed = [parse_metric(m) for m in metrics]  # malformed metrics abort before any work
    relative = [p.text for p in parsed if p.needs_prescription]
    if args.prescription is None and relative:
        raise ArgumentError(f"metric(s) {relative} are relative to the prescription: give --prescription GY")
    if args.prescription is not None and not (math.isfinite(args.prescription) and args.prescription > 0):
        raise ArgumentError(f"--prescription must be a dose > 0 Gy, got {args.prescription}")
    end_cap = EndCapConvention.parse(args.end_cap)
    dose = load_dose(args.dose, normalisation_gy=args.normalisation_gy)
    structure_set = load_structure_set(args.structures)
    if (
        dose.frame_of_reference_uid
        and structure_set.frame_of_reference_uid
        and dose.frame_of_reference_uid != structure_set.frame_of_reference_uid
    ):
        raise ConsistencyError(
            f"{args.dose} (FrameOfReferenceUID {dose.frame_of_reference_uid}) and {args.structures} "
            f"(FrameOfReferenceUID {structure_set.frame_of_reference_uid}) are in different frames of reference"
        )
    rois = [structure_set.roi(name) for name in args.roi] if args.roi else list(structure_set.rois)
    structures = evaluate_rois(
        dose,
        rois,
        metrics,
        prescription_gy=args.prescription,
        bin_width_gy=args.bin_width,
        end_cap=end_cap,
        supersample=args.supersample,
        # with --compare-tps/--convention-spread the geometries are reused from this process's cache
        shared=not (getattr(args, "compare_tps", False) or getattr(args, "convention_spread", False)),
    )
    result = {
        "dose": _dose_info(dose, args.dose),
        "structures_source": str(args.structures),
        "structure_set_warnings": list(structure_set.warnings),
        "end_cap": end_cap.value,
        "bin_width_gy": args.bin_width,
        "prescription_gy": args.prescription,
        "structures": structures,
    }
    comparison = None
    if getattr(args, "compare_tps", False):
        from dosimetry.dvh.planning_system import compare_with_planning_system
        from dosimetry.io.dvh_sequence import read_dvh_sequence

        planning_system = read_dvh_sequence(args.dose)
        comparison = compare_with_planning_system(
            dose, rois, planning_system, metrics, end_cap=end_cap, prescription_gy=args.prescription,
            bin_width_gy=args.bin_width, supersample=args.supersample,
        )
        result["planning_system_comparison"] = _comparison_json(comparison, planning_system.source, len(planning_system.dvhs))
    if getattr(args, "convention_spread", False):
        from dataclasses import asdict

        from dosimetry.dvh.sensitivity import convention_sensitivity

        sensitivity = convention_sensitivity(
            dose, rois, metrics, prescription_gy=args.prescription, bin_width_gy=args.bin_width,
            supersample=args.supersample,
        )
        result["convention_sensitivity"] = [asdict(s) | {"flagged": s.flagged} for s in sensitivity]
    warnings = roi_warnings(structures, list(dose.warnings), list(structure_set.warnings))
    every_warning = list(dict.fromkeys(w for ws in warnings.values() for w in ws))
    if comparison is not None:  # malformed DVH Sequence items, unmatched ROI numbers
        every_warning = list(dict.fromkeys([*every_warning, *comparison.warnings, *comparison.unmatched_items]))
    for w in every_warning:
        logging.getLogger(__name__).warning("%s", w)
    if args.csv:
        _write_csv(args.csv, structures, metrics, warnings)
    if args.json == "-":
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if args.json:
            try:
                Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"cannot write JSON {args.json}: {exc}") from exc
        _print_table(structures, metrics)
        if comparison is not None:
            _print_comparison(result["planning_system_comparison"])
        if "convention_sensitivity" in result:
            _print_sensitivity(result["convention_sensitivity"])
        if every_warning:
            print(f"{len(every_warning)} warning(s) that may change the numbers above:")
            for w in every_warning:
                print(f"  warning: {w}")
    return 0


def _print_sensitivity(entries: list[dict[str, Any]]) -> None:
    print("\nConvention sensitivity (value under each --end-cap; spread = max - min)")
    rows = [["ROI", "quantity", "by convention", "spread", "flag"]]
    for entry in entries:
        for s in entry["spreads"]:
            shown = ", ".join(f"{name} {_fmt(v) or 'n/a'}" for name, v in s["by_convention"])
            rows.append([entry["roi_name"], s["quantity"], shown, _fmt(s["spread"]) or "n/a", "SENSITIVE" if s["flagged"] else ""])
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def _comparison_json(comparison: Any, source: str, n_items: int) -> dict[str, Any]:
    from dataclasses import asdict

    from dosimetry.dvh import planning_system as ps

    return {
        "source": source,
        "items_read": n_items,
        "end_cap": comparison.end_cap,
        "tolerances": {
            "volume_percent": ps.VOLUME_TOLERANCE_PERCENT,
            "volume_cc": ps.VOLUME_TOLERANCE_CC,
            "percent_volume_points": ps.VOLUME_TOLERANCE_PERCENT_POINTS,
            "dose_percent": ps.DOSE_TOLERANCE_PERCENT,
            "dose_gy": ps.DOSE_TOLERANCE_GY,
        },
        "rois": [asdict(r) | {"flagged": r.flagged} for r in comparison.rois],
        "unmatched_items": list(comparison.unmatched_items),
        "warnings": list(comparison.warnings),
    }


def _print_comparison(data: dict[str, Any]) -> None:
    print(f"\nPlanning-system DVHs ({data['source']}, {data['items_read']} item(s)); ours with --end-cap {data['end_cap']}")
    if not data["rois"]:
        print("  no ROI of the structure set has a planning-system DVH (DVH Sequence absent or unmatched)")
    rows = [["ROI", "quantity", "ours", "planning system", "ours - PS", "flag"]]
    for roi in data["rois"]:
        for value in roi["values"]:
            rows.append([
                roi["roi_name"], value["quantity"], _fmt(value["ours"]) or "n/a", _fmt(value["planning_system"]) or "n/a",
                _fmt(value["difference"]) or "n/a", "BEYOND TOLERANCE" if value["flagged"] else (value["note"] or ""),
            ])
        volumes = ", ".join(f"{name} {v:.4g}" for name, v in roi["volume_by_convention_cc"])
        rows.append([roi["roi_name"], "volume by convention (cc)", volumes, "", "", f"closest: {roi['best_convention'] or 'n/a'}"])
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    for line in [*data["unmatched_items"], *data["warnings"]]:
        print(f"warning: {line}")


def _print_table(structures: list[dict[str, Any]], metrics: list[str]) -> None:
    header = ["ROI", "volume_cc", "outside_cc", *metrics]
    rows = [header]
    for s in structures:
        rows.append(
            [s["name"], _fmt(s["volume_cc"]), _fmt(s["volume_outside_dose_grid_cc"])]
            + [_fmt(s["metrics"].get(m)) if s["metrics"].get(m) is not None else "n/a" for m in metrics]
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
