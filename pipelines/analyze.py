"""``dosimetry analyze``: the whole single-patient pipeline, and its batch form :func:`full_analysis`.

Steps (:func:`run_analysis`):

1. load the current and prior course, align the prior dose, build BED2/BED9/EQD2_2/EQD2_9 and the
   cumulative EQD2_2/BED2 maps (:mod:`pipelines.patient_maps`);
2. DVHs (DVH engine, bins of ``dvh_bin_width_gy``, default 0.01 Gy) of every ROI on each quantity
   of :func:`roles_for` and the metrics of :data:`METRICS` (plus V100/V95/V90 % of the
   prescription for targets on the planned dose);
3. plan-quality indices of the targets (GTV/CTV/PTV) on the planned dose and on BED9, with the
   protocol's coverage rules (V95% >= 95 % for the CTV, V90% >= 90 % for the PTV on the planned dose);
4. constraint checks: Emami TD5/5 with LKB NTCP on the cumulative EQD2 (alpha/beta 2 Gy) of the
   organs at risk, plus the user protocol (:mod:`dosimetry.constraints`);
5. outputs in OUT (each written atomically): ``report.html``, ``results.json`` (schema:
   :mod:`pipelines.results_schema`), ``dvh.csv``, ``metrics.csv`` and the maps as RT Dose files
   ``BED2.dcm``, ``BED9.dcm``, ``EQD2_2.dcm``, ``EQD2_9.dcm`` and (with a prior course)
   ``EQD2_2_cumulative.dcm``, ``BED2_cumulative.dcm``.

Quantities (``metrics.csv`` column ``quantity``) and which ROIs get them (:func:`roles_for`):

* ``rbe_weighted`` (EFFECTIVE dose, GyE) or ``physical`` (PHYSICAL dose): the current plan's dose; every ROI;
* ``BED2``, ``EQD2_2``, ``BED9``, ``EQD2_9``: current course only, voxel LQ with d = D/n; targets and
  organs (not the External/support ROIs);
* ``EQD2_2_cumulative``, ``BED2_cumulative``: current + r x prior (BED space); organs at risk only
  (target metrics use the current course alone, as the protocol does).

File formats:

* ``dvh.csv``: ``roi, quantity, dose_gy, volume_cc, volume_pct``: the cumulative DVH sampled every
  ``dvh_csv_step_gy`` (default 0.1 Gy; exact, the curve is linear between bin edges) from 0 Gy to
  the first step above the maximum; ``volume_pct`` refers to the ROI volume inside the dose grid.
* ``metrics.csv``: ``roi, quantity, metric, value, unit`` (same rows as results.json ``metrics``).
  A metric the DVH cannot give (D0.03cc of an ROI smaller than 0.03 cc) is left out, with a warning.

Exit codes of the command: 0 done, 2 with ``--fail-on-violation`` when any constraint FAILs,
1 on error (one line on stderr).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

import dosimetry
from dosimetry.constraints.evaluate import ConstraintReport
from dosimetry.constraints.metrics import parse_constraint
from dosimetry.constraints.naming import NameMapper, load_name_mapping
from dosimetry.constraints.partial_volume import Status as ConstraintStatus
from dosimetry.constraints.protocol import Protocol, load_protocol
from dosimetry.constraints.quantities import Quantity as ConstraintQuantity
from dosimetry.dose import DoseGrid
from dosimetry.dvh import Dvh, EndCapConvention, evaluate_metric, roi_dose_samples
from dosimetry.dvh.curve import dvh_from_samples
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.errors import ArgumentError, DosimetryError, GeometryError, MetricError, OutputError
from dosimetry.indices import DoseQuantity, ReferenceLevel, TargetIndices, evaluate_targets, find_body
from dosimetry.radiobiology import SummationMethod, make_schedules
from dosimetry.radiobiology.alpha_beta import RoiRole, roi_role
from dosimetry.radiobiology.export import export_cumulative_map, export_lq_map, identity_from_dicom
from dosimetry.structures import Roi
from pipelines import atomic
from pipelines.analysis import (
    AnalysisParameters,
    ConstraintRow,
    CourseRow,
    MetricRow,
    PatientInputs,
    PatientResult,
    RoiRow,
)
from pipelines.hashing import file_sha256
from pipelines.patient_maps import PatientMaps, build_patient_maps, constraint_report, resolve_folders, unique_rois
from pipelines.results_schema import SCHEMA_VERSION, validate

logger = logging.getLogger(__name__)

EXIT_VIOLATION = 2
DVH_BIN_WIDTH_GY = 0.01
DVH_CSV_STEP_GY = 0.1

#: Metrics of every ROI on every quantity it gets (Gy of the quantity).
METRICS: tuple[str, ...] = ("Mean[Gy]", "Min[Gy]", "Max[Gy]", "D98%[Gy]", "D95%[Gy]", "D50%[Gy]", "D2%[Gy]", "D0.03cc[Gy]")
#: Extra metrics of targets on the planned dose: volume (%) at 100/95/90 % of the prescription.
TARGET_COVERAGE_METRICS: tuple[str, ...] = ("V100%[%]", "V95%[%]", "V90%[%]")

#: Protocol Table 1: dose levels 1..6 = 2.5 GyE x 21..26 fractions.
PROTOCOL_DOSE_PER_FRACTION_GY = 2.5
PROTOCOL_FRACTIONS: tuple[int, ...] = (21, 22, 23, 24, 25, 26)

#: Which ROI roles get which quantity: the planned dose every ROI, the current course's BED/EQD2
#: maps targets and organs, the cumulative maps organs at risk only.
_ALL_ROLES = frozenset(RoiRole)
_TARGETS_AND_ORGANS = frozenset({RoiRole.TARGET, RoiRole.ORGAN_AT_RISK})
_ORGANS = frozenset({RoiRole.ORGAN_AT_RISK})
_ROLE_SCOPE = {_ALL_ROLES: "all", _TARGETS_AND_ORGANS: "targets_and_organs", _ORGANS: "organs"}


def roles_for(key: str) -> frozenset[RoiRole]:
    """The ROI roles that get the map ``key`` ("dose", "BED2", ..., "EQD2_2_cumulative")."""
    if key == "dose":
        return _ALL_ROLES
    return _ORGANS if key.endswith("_cumulative") else _TARGETS_AND_ORGANS


@dataclass(frozen=True)
class AnalyzeOptions:
    """Inputs and parameters of one analysis (the command's arguments)."""

    patient_dir: Path
    out_dir: Path
    prior_dir: Path | None = None
    registration_path: Path | None = None
    assume_same_position: bool = False
    residual: float = 0.3
    protocol_path: Path | None = None
    mapping_path: Path | None = None
    alpha_beta_late_gy: float = 2.0
    alpha_beta_tumour_gy: float = 9.0
    dvh_bin_width_gy: float = DVH_BIN_WIDTH_GY
    dvh_csv_step_gy: float = DVH_CSV_STEP_GY


@dataclass(frozen=True, eq=False)
class AnalysisOutcome:
    """What :func:`run_analysis` produced: the results.json document, the batch rows, the files."""

    results: dict[str, Any]
    patient_result: PatientResult
    any_fail: bool
    out_dir: Path


@dataclass(frozen=True, eq=False)
class RoiQuantityDvh:
    roi: Roi
    quantity: str
    dvh: Dvh


@dataclass(eq=False)
class _Work:
    """Mutable state of one run (internal)."""

    maps: PatientMaps
    options: AnalyzeOptions
    dose_name: str
    rois: list[Roi]
    roles: dict[str, RoiRole]
    dvhs: dict[tuple[str, str], Dvh] = field(default_factory=dict)
    metrics: list[MetricRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    roi_failures: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# DVHs and metrics


def _map_for(maps: PatientMaps, key: str) -> DoseGrid:
    if key == "dose":
        return maps.current.dose
    if key in maps.lq:
        return maps.lq[key].dose
    return maps.cumulative[key].dose


def _map_keys(maps: PatientMaps) -> list[str]:
    return ["dose", *maps.lq, *maps.cumulative]


def _quantity_label(work: _Work, key: str) -> str:
    return work.dose_name if key == "dose" else key


def _compute_dvhs(work: _Work) -> None:
    grid = work.maps.current.dose.grid
    keys = _map_keys(work.maps)
    for roi in work.rois:
        role = work.roles[roi.name]
        if not roi.closed_planar_contours:
            work.roi_failures[roi.name] = f"ROI {roi.name!r} has no closed planar contours"
            work.warnings.append(f"ROI {roi.name!r} has no closed planar contours: no DVH")
            continue
        try:
            geometry = geometry_for_grid(roi, grid, EndCapConvention.HALF_SLAB, None)
        except GeometryError as exc:
            work.roi_failures[roi.name] = str(exc)
            work.warnings.append(f"ROI {roi.name!r}: {exc}")
            continue
        for key in keys:
            roles = roles_for(key)
            if role not in roles:
                continue
            dose = _map_for(work.maps, key)
            try:
                samples = roi_dose_samples(dose, roi, geometry=geometry)
                dvh = dvh_from_samples(
                    samples, roi_name=roi.name, roi_number=roi.number, bin_width_gy=work.options.dvh_bin_width_gy,
                    dose_type=str(dose.dose_type),
                )
            except GeometryError as exc:
                work.roi_failures[roi.name] = str(exc)
                work.warnings.append(f"ROI {roi.name!r}: {exc}")
                break
            if key == "dose":
                work.warnings.extend(dvh.warnings)
            work.dvhs[(roi.name, key)] = dvh


def _metric_rows(work: _Work) -> None:
    prescription = _prescription_gy(work)
    for (name, key), dvh in work.dvhs.items():
        label = _quantity_label(work, key)
        wanted = list(METRICS)
        if key == "dose" and work.roles[name] is RoiRole.TARGET and prescription is not None:
            wanted += list(TARGET_COVERAGE_METRICS)
        for metric in wanted:
            try:
                value = evaluate_metric(dvh, metric, prescription_gy=prescription)
            except MetricError as exc:
                if key == "dose":
                    work.warnings.append(f"ROI {name!r}: {metric} not reported: {exc}")
                continue
            unit = metric[metric.index("[") + 1 : -1]
            work.metrics.append(MetricRow(roi=name, quantity=label, metric=metric, value=float(value), unit=unit))


def _prescription_gy(work: _Work) -> float | None:
    try:
        return float(work.maps.current.plan.target_prescription_dose_gy)
    except (DosimetryError, TypeError) as exc:
        note = f"the current plan gives no target prescription dose ({exc}): no % metrics, indices or overlays"
        if note not in work.warnings:
            work.warnings.append(note)
        return None


# --------------------------------------------------------------------------------------------
# Indices


def _indices(work: _Work) -> list[TargetIndices]:
    targets = [r for r in work.rois if work.roles[r.name] is RoiRole.TARGET and r.name not in work.roi_failures]
    prescription = _prescription_gy(work)
    if not targets:
        work.warnings.append("no target ROI (GTV/CTV/PTV): no plan-quality indices")
        return []
    if prescription is None:
        return []
    try:
        body = find_body(work.maps.structure_set)
    except DosimetryError as exc:
        work.warnings.append(f"indices without a body ROI: {exc}")
        body = None
    n = work.maps.current.plan.fractions_planned
    results: list[TargetIndices] = []
    runs: list[tuple[DoseGrid, ReferenceLevel]] = [(work.maps.current.dose, ReferenceLevel.physical(prescription))]
    ab_key = f"BED{work.maps.alpha_beta_tumour_gy:g}"
    if ab_key in work.maps.lq:
        runs.append(
            (work.maps.lq[ab_key].dose, ReferenceLevel.lq(DoseQuantity.BED, prescription, n, work.maps.alpha_beta_tumour_gy))
        )
    for dose, reference in runs:
        try:
            results.extend(evaluate_targets(dose, targets, reference, body=body))
        except DosimetryError as exc:
            work.warnings.append(f"indices on {reference.label} not computed: {exc}")
    for result in results:
        work.warnings.extend(f"indices {result.target_name} ({result.reference.label}): {w}" for w in result.warnings)
    return results


def _indices_quantity(work: _Work, result: TargetIndices) -> str:
    if result.reference.quantity is DoseQuantity.PHYSICAL:
        return work.dose_name
    return f"{result.reference.quantity}{result.reference.alpha_beta_gy:g}"


# --------------------------------------------------------------------------------------------
# Constraints


def _constraints(work: _Work, protocol: Protocol | None, mapper: NameMapper) -> ConstraintReport:
    """The checks of ``dosimetry check`` (:func:`pipelines.patient_maps.constraint_report`), reusing
    the DVHs already made on the same maps."""
    reuse = {
        ConstraintQuantity.EQD2_CUMULATIVE: work.maps.eqd2_late_cumulative_key,
        ConstraintQuantity.EQD2_CURRENT: f"EQD2_{work.maps.alpha_beta_late_gy:g}",
        ConstraintQuantity.DOSE_CURRENT: "dose",
    }
    known: dict[ConstraintQuantity, dict[str, Dvh]] = {quantity: {} for quantity in reuse}
    for (name, key), dvh in work.dvhs.items():
        for quantity, reused in reuse.items():
            if key == reused:
                known[quantity][name] = dvh
    return constraint_report(
        work.maps,
        tuple(work.rois),
        mapper=mapper,
        protocol=protocol,
        bin_width_gy=work.options.dvh_bin_width_gy,
        roi_failures=work.roi_failures,
        known_dvhs=known,
    )


def constraint_rows(report: ConstraintReport) -> list[dict[str, Any]]:
    """Flat rows (results.json ``constraints.rows``) of an Emami + protocol report."""
    rows: list[dict[str, Any]] = []
    for organ in report.organs:
        for e in organ.endpoints:
            rows.append(
                {
                    "source": "emami",
                    "roi": e.roi_name,
                    "organ": e.organ.value,
                    "endpoint": e.endpoint,
                    "quantity": e.quantity.value,
                    "metric": "Max[Gy]",
                    "comparator": "<=",
                    "limit": e.limit_gy,
                    "value": e.max_dose_gy,
                    "unit": "Gy",
                    "status": e.status.value,
                    "ntcp": e.ntcp,
                    "reason": e.reason,
                }
            )
    for p in report.protocol:
        constraint = parse_constraint(p.constraint)
        rows.append(
            {
                "source": "protocol",
                "roi": p.roi_name or "",
                "organ": p.structure,
                "endpoint": f"line {p.line}: {p.constraint}",
                "quantity": p.quantity.value,
                "metric": constraint.metric.text,
                "comparator": constraint.op,
                "limit": constraint.limit,
                "value": p.value,
                "unit": p.unit,
                "status": p.status.value,
                "ntcp": None,
                "reason": p.reason,
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# Provenance


def _input_record(path: Path, course: str, root: Path) -> dict[str, Any]:
    modality = sop_class = sop_instance = ""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        modality = str(ds.get("Modality", ""))
        sop_class = str(ds.get("SOPClassUID", ""))
        sop_instance = str(ds.get("SOPInstanceUID", ""))
    except (pydicom.errors.InvalidDicomError, OSError, ValueError, AttributeError, EOFError):
        modality = "not DICOM"
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = str(path)
    return {
        "path": shown,
        "course": course,
        "modality": modality,
        "sop_class_uid": sop_class,
        "sop_instance_uid": sop_instance,
        "sha256": file_sha256(path),
        "size_bytes": path.stat().st_size,
    }


def _inputs(maps: PatientMaps, options: AnalyzeOptions) -> list[dict[str, Any]]:
    root = Path(options.patient_dir)
    records: list[dict[str, Any]] = []
    seen: set[Path] = set()
    folders = [("current", maps.folders.current)]
    if maps.folders.prior is not None:
        folders.append(("prior", maps.folders.prior))
    for course, folder in folders:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            records.append(_input_record(path, course, root))
    for label, path in (("registration", options.registration_path), ("protocol", options.protocol_path),
                        ("mapping", options.mapping_path)):
        if path is not None and Path(path).resolve() not in seen:
            seen.add(Path(path).resolve())
            records.append(_input_record(Path(path), label, root))
    return records


# --------------------------------------------------------------------------------------------
# Documents and files


def _course_dict(label: str, course: Any, folder: Path) -> dict[str, Any]:
    plan = course.plan
    fractions = plan.fractions_planned
    try:
        prescription: float | None = float(plan.target_prescription_dose_gy)
    except (DosimetryError, TypeError):
        prescription = None
    return {
        "label": label,
        "folder": str(folder),
        "plan_sop_instance_uid": plan.sop_instance_uid,
        "plan_label": plan.label or plan.name or "",
        "radiation_types": sorted(t.value for t in plan.radiation_types),
        "fractions": int(fractions),
        "dose_per_fraction_gy": None if prescription is None else prescription / fractions,
        "prescription_dose_gy": prescription,
        "dose_type": course.dose.dose_type.value,
        "dose_sop_instance_uid": course.dose.sop_instance_uid or "",
        "frame_of_reference_uid": course.dose.frame_of_reference_uid,
    }


def dose_levels(maps: PatientMaps) -> dict[str, Any]:
    """Protocol Table 1 (levels 1-6) via make_schedules and the patient's level (None if off-table)."""
    schedules = make_schedules(PROTOCOL_DOSE_PER_FRACTION_GY, PROTOCOL_FRACTIONS, (2.0, 9.0))
    rows = [
        {
            "level": i + 1,
            "fractions": s.fractions,
            "dose_per_fraction_gy": s.dose_per_fraction_gy,
            "total_gy": s.total_gy,
            "bed2_gy": s.bed_for(2.0),
            "bed9_gy": s.bed_for(9.0),
            "eqd2_2_gy": s.eqd2_for(2.0),
            "eqd2_9_gy": s.eqd2_for(9.0),
        }
        for i, s in enumerate(schedules)
    ]
    plan = maps.current.plan
    level: int | None = None
    note = ""
    try:
        n = plan.fractions_planned
        d = float(plan.target_prescription_dose_gy) / n
        for row in rows:
            if row["fractions"] == n and abs(row["dose_per_fraction_gy"] - d) < 1e-6:
                level = int(row["level"])
        note = (
            f"current plan: {d:.4g} GyE x {n} fractions = dose level {level}"
            if level is not None
            else f"current plan: {d:.4g} GyE x {n} fractions is not a dose level of the protocol (2.5 GyE x 21-26)"
        )
    except (DosimetryError, TypeError) as exc:
        note = f"the current plan's fractionation is unknown ({exc})"
    return {"rows": rows, "patient_level": level, "note": note}


def _dvh_csv(work: _Work) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["roi", "quantity", "dose_gy", "volume_cc", "volume_pct"])
    step = work.options.dvh_csv_step_gy
    for (name, key), dvh in work.dvhs.items():
        top = float(dvh.bin_edges_gy[-1])
        levels = np.arange(0.0, top + step, step)
        volumes = np.interp(levels, dvh.bin_edges_gy, dvh.cumulative_cc, left=dvh.volume_in_dose_grid_cc, right=0.0)
        pct = 100.0 * volumes / dvh.volume_in_dose_grid_cc
        label = _quantity_label(work, key)
        for level, volume, p in zip(levels, volumes, pct, strict=True):
            writer.writerow([name, label, f"{level:.4f}", f"{volume:.6g}", f"{p:.6g}"])
    return buffer.getvalue()


def _metrics_csv(rows: Sequence[MetricRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["roi", "quantity", "metric", "value", "unit"])
    for row in rows:
        writer.writerow([row.roi, row.quantity, row.metric, repr(row.value), row.unit])
    return buffer.getvalue()


def _export_maps(maps: PatientMaps, out_dir: Path, warnings: Sequence[str]) -> list[dict[str, Any]]:
    """Write the maps as RT Dose files: each into a private temporary folder, then renamed into OUT."""
    identity = identity_from_dicom(maps.current.dose_paths[0])
    outputs: list[dict[str, Any]] = []
    notes = tuple(warnings)[:50]
    scratch = Path(tempfile.mkdtemp(prefix=".rtdose-", dir=out_dir))
    try:
        jobs: list[tuple[str, Any, bool]] = [(key, m, False) for key, m in maps.lq.items()]
        if maps.prior is not None:
            jobs += [(key, m, True) for key, m in maps.cumulative.items()]
        for key, item, cumulative in jobs:
            name = f"{key}.dcm"  # fixed names, never from DICOM values
            tmp = scratch / name
            if cumulative:
                exported = export_cumulative_map(item, tmp, identity=identity, plan=maps.current.plan, notes=notes)
            else:
                exported = export_lq_map(item, tmp, identity=identity, plan=maps.current.plan, notes=notes)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, out_dir / name)
            outputs.append(
                {"path": name, "kind": "rtdose", "description": exported.series_description, "sop_instance_uid": exported.sop_instance_uid}
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return outputs


def _clean(value: Any) -> Any:
    """JSON-ready copy: tuples to lists, non-finite floats to None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.floating):
        return _clean(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def run_analysis(options: AnalyzeOptions) -> AnalysisOutcome:
    """Run the whole analysis and write every output into ``options.out_dir`` (created if needed)."""
    out_dir = Path(options.out_dir)
    protocol = load_protocol(options.protocol_path) if options.protocol_path is not None else None
    mapper = load_name_mapping(options.mapping_path) if options.mapping_path is not None else NameMapper()
    folders = resolve_folders(Path(options.patient_dir), options.prior_dir)
    for label, folder in (("current", folders.current), ("prior", folders.prior)):
        if folder is not None and (out_dir.resolve() == folder.resolve() or folder.resolve() in out_dir.resolve().parents):
            raise ArgumentError(
                f"--out {out_dir} lies inside the {label} course folder {folder}; the exported RT Doses would be read "
                "as inputs by the next run: choose an output folder outside the course folders"
            )
    maps = build_patient_maps(
        folders,
        registration_path=options.registration_path,
        assume_same_position=options.assume_same_position,
        residual=options.residual,
        alpha_beta_late_gy=options.alpha_beta_late_gy,
        alpha_beta_tumour_gy=options.alpha_beta_tumour_gy,
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_dir}: {exc}") from exc

    unique, duplicates = unique_rois(maps.structure_set)
    rois = list(unique)
    warnings = [*maps.warnings, *duplicates]
    work = _Work(maps, options, maps.dose_quantity, rois, {r.name: roi_role(r) for r in rois}, warnings=warnings)
    _compute_dvhs(work)
    _metric_rows(work)
    indices = _indices(work)
    report = _constraints(work, protocol, mapper)
    work.warnings.extend(report.warnings)
    rows = constraint_rows(report)

    outputs = _export_maps(maps, out_dir, work.warnings)
    atomic.write_text(out_dir / "dvh.csv", _dvh_csv(work))
    atomic.write_text(out_dir / "metrics.csv", _metrics_csv(work.metrics))
    outputs += [
        {"path": "dvh.csv", "kind": "csv", "description": "cumulative DVHs, long format", "sop_instance_uid": None},
        {"path": "metrics.csv", "kind": "csv", "description": "DVH metrics per ROI and quantity", "sop_instance_uid": None},
    ]
    results = _results_document(work, options, indices, report, rows, outputs)
    # The report needs the final document (warnings, provenance); it is listed before it is written.
    from pipelines.report_builder import build_report

    results["outputs"].append({"path": "report.html", "kind": "html", "description": "clinical report", "sop_instance_uid": None})
    results["outputs"].append({"path": "results.json", "kind": "json", "description": f"results, schema {SCHEMA_VERSION}", "sop_instance_uid": None})
    page = build_report(results, work_view(work))
    results["warnings"] = list(dict.fromkeys(results["warnings"] + list(page.warnings)))
    validate(results)
    atomic.write_text(out_dir / "report.html", page.html)
    atomic.write_text(out_dir / "results.json", json.dumps(results, indent=2, sort_keys=False) + "\n")

    patient_result = _patient_result(work, report, results)
    return AnalysisOutcome(results, patient_result, report.any_fail, out_dir)


@dataclass(frozen=True, eq=False)
class WorkView:
    """What the report builder needs beyond results.json: DVH curves, maps and ROIs."""

    maps: PatientMaps
    rois: tuple[Roi, ...]
    roles: dict[str, RoiRole]
    dvhs: dict[tuple[str, str], Dvh]
    dose_name: str


def work_view(work: _Work) -> WorkView:
    return WorkView(work.maps, tuple(work.rois), dict(work.roles), dict(work.dvhs), work.dose_name)


def _results_document(
    work: _Work,
    options: AnalyzeOptions,
    indices: Sequence[TargetIndices],
    report: ConstraintReport,
    rows: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
) -> dict[str, Any]:
    maps = work.maps
    courses = [_course_dict("current", maps.current, maps.folders.current)]
    alignment = None
    if maps.prior is not None and maps.aligned is not None:
        courses.append(_course_dict("prior", maps.prior, maps.folders.prior or Path()))
        alignment = {
            "method": maps.aligned.method.value,
            "transform": maps.aligned.transform_description,
            "registration_source": maps.registration_source,
            "uncovered_volume_cc": float(maps.aligned.uncovered_volume_cc),
        }
    identity = identity_from_dicom(maps.current.dose_paths[0])
    quantities = []
    descriptions = {"dose": f"{work.dose_name}: the current plan's dose ({maps.current.dose.dose_type.value})"}
    descriptions.update({k: m.description for k, m in maps.lq.items()})
    descriptions.update({k: m.description for k, m in maps.cumulative.items()})
    present = {key for (_, key) in work.dvhs}
    for key in _map_keys(maps):
        if key in present:
            scope = _ROLE_SCOPE[roles_for(key)]
            quantities.append({"name": _quantity_label(work, key), "description": descriptions[key], "rois": scope})
    roi_rows = []
    for roi in work.rois:
        dvh = work.dvhs.get((roi.name, "dose"))
        roi_rows.append(
            {
                "name": roi.name,
                "number": int(roi.number),
                "interpreted_type": roi.interpreted_type,
                "role": work.roles[roi.name].value,
                "volume_cc": float(dvh.volume_cc) if dvh else None,  # None: no DVH (reason in warnings)
                "volume_in_dose_grid_cc": float(dvh.volume_in_dose_grid_cc) if dvh else None,
            }
        )
    index_dicts = []
    for result in indices:
        entry = {"target": result.target_name, "quantity": _indices_quantity(work, result)}
        entry.update({k: v for k, v in result.to_dict().items() if k != "target"})
        index_dicts.append(entry)
    document = {
        "schema_version": SCHEMA_VERSION,
        "software": {"name": "dosimetry", "version": dosimetry.__version__},
        "generated_utc": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "parameters": {
            "residual": maps.residual,
            "alpha_beta_late_gy": maps.alpha_beta_late_gy,
            "alpha_beta_tumour_gy": maps.alpha_beta_tumour_gy,
            "summation_method": SummationMethod.BED_SPACE.value,
            "dvh_bin_width_gy": options.dvh_bin_width_gy,
            "dvh_csv_step_gy": options.dvh_csv_step_gy,
            "protocol": None if options.protocol_path is None else str(options.protocol_path),
            "mapping": None if options.mapping_path is None else str(options.mapping_path),
            "registration": None if options.registration_path is None else str(options.registration_path),
            "assume_same_position": bool(options.assume_same_position),
            "folders": maps.folders.how,
        },
        "patient": {"patient_id": identity.patient_id, "patient_name": identity.patient_name},
        "courses": courses,
        "alignment": alignment,
        "dose_levels": dose_levels(maps),
        "quantities": quantities,
        "rois": roi_rows,
        "metrics": [vars(m) for m in work.metrics],
        "indices": index_dicts,
        "constraints": {
            "any_fail": report.any_fail,
            "quantity": report.quantity.value,
            "alpha_beta_gy": report.alpha_beta_gy,
            "rows": rows,
        },
        "outputs": outputs,
        "inputs": _inputs(maps, options),
        "warnings": list(dict.fromkeys(work.warnings)),
    }
    return _clean(document)


def _patient_result(work: _Work, report: ConstraintReport, results: dict[str, Any]) -> PatientResult:
    constraints: list[ConstraintRow] = []
    seen: set[tuple[Any, ...]] = set()
    for row in results["constraints"]["rows"]:
        if row["value"] is None or row["limit"] is None:
            continue
        key = (row["roi"], row["quantity"], row["metric"], row["comparator"], row["limit"])
        if key in seen:  # several Emami endpoints with the same limit: keep the first
            continue
        seen.add(key)
        constraints.append(
            ConstraintRow(
                roi=row["roi"], quantity=row["quantity"], metric=row["metric"], comparator=row["comparator"],
                limit=float(row["limit"]), value=float(row["value"]), unit=row["unit"],
                passed=row["status"] == ConstraintStatus.PASS.value,
                description=f"{row['source']}: {row['organ']} {row['endpoint']}",
            )
        )
    courses = tuple(
        CourseRow(
            label=c["label"], plan_sop_instance_uid=c["plan_sop_instance_uid"], radiation_type=",".join(c["radiation_types"]),
            fractions=c["fractions"], prescription_dose_gy=c["prescription_dose_gy"],
            frame_of_reference_uid=c["frame_of_reference_uid"],
        )
        for c in results["courses"]
    )
    rois = tuple(
        RoiRow(name=r["name"], interpreted_type=r["interpreted_type"], volume_cc=r["volume_cc"])
        for r in results["rois"]
        if r["volume_cc"] is not None
    )
    return PatientResult(
        metrics=tuple(work.metrics),
        constraints=tuple(constraints),
        courses=courses,
        rois=rois,
        warnings=tuple(results["warnings"]),
        output_files=tuple(o["path"] for o in results["outputs"]),
    )


# --------------------------------------------------------------------------------------------
# Batch


def _course_root(folder: Path) -> Path:
    """The folder holding ``current/`` (and ``prior/``) at any depth below ``folder`` when there is
    exactly one such folder (grouped patients keep their ROOT-relative paths), else ``folder``."""
    found = sorted(p for p in Path(folder).rglob("*") if p.is_dir() and p.name.casefold() == "current")
    return found[0].parent if len(found) == 1 else Path(folder)


def full_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """The :data:`pipelines.analysis.PatientAnalysis` running ``dosimetry analyze`` for one batch patient.

    The patient's folder (:func:`pipelines.adapters.patient_folder`) must have the ``current/``
    (and optionally ``prior/``) layout, or be a single course. ``parameters`` give the residual,
    the alpha/beta ratios and the protocol; ``extra`` may hold ``assume_same_position`` (bool).
    Every output of ``dosimetry analyze`` is written into ``out_dir``.
    """
    from pipelines.adapters import patient_folder

    extra = dict(parameters.extra)
    with tempfile.TemporaryDirectory(prefix="analyze-") as scratch:
        folder = _course_root(patient_folder(inputs, Path(scratch)))
        outcome = run_analysis(
            AnalyzeOptions(
                patient_dir=folder,
                out_dir=Path(out_dir),
                assume_same_position=bool(extra.get("assume_same_position", False)),
                residual=parameters.residual_fraction,
                protocol_path=parameters.protocol_path,
                alpha_beta_late_gy=parameters.alpha_beta_late_gy,
                alpha_beta_tumour_gy=parameters.alpha_beta_tumour_gy,
            )
        )
    return outcome.patient_result


full_analysis.analysis_id = "pipelines.analyze.full_analysis"  # type: ignore[attr-defined]
full_analysis.analysis_version = "1"  # type: ignore[attr-defined]
