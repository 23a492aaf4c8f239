"""``dosimetry inspect PATH [--json]``: what an export holds, how it links up, what is wrong.

PATH is a folder (scanned recursively) or one DICOM file. A single file is first loaded in full
with its loader (so a bad file gives one ``dosimetry: error: ...`` line and exit code 1); a folder
never aborts on a bad file: it is listed under "skipped" with the reason.

Exit codes: 0 when nothing is wrong (warnings allowed), 2 when the scan found consistency errors
(they are printed, and included in the JSON), 1 for a path that cannot be inspected at all.

JSON shape (``--json``; every length in mm, dose in Gy, volume in cc)::

    {
      "paths": ["..."],
      "n_files_indexed": 12,
      "patients": [
        {"patient_id": "...", "patient_name": "...", "study_instance_uids": ["..."],
         "courses": [
           {"label": "course 1 (RT Ion Plan ION 6/12 'C12', 22 fx)",
            "frame_of_reference_uid": "...", "study_instance_uid": "...",
            "plans": [{"path", "sop_instance_uid", "kind": "RT_ION_PLAN" | "RT_PLAN",
                       "plan_type": "RT Ion Plan ION 6/12", "label", "name",
                       "fractions": 22 | null, "dose_per_fraction_gy": 2.5 | null,
                       "prescription_gy": 55.0 | null, "manufacturer", "model_name",
                       "approval_status", "referenced_structure_set_uid",
                       "fraction_groups": [{"number", "fractions_planned",
                                            "beams": [{"number", "name", "radiation_type",
                                                       "atomic_number", "mass_number",
                                                       "dose_per_fraction_gy", "meterset"}]}],
                       "prescriptions": [{"number", "dose_reference_type", "description",
                                          "target_prescription_dose_gy", ...}]}],
            "doses": [{"path", "sop_instance_uid", "dose_type": "EFFECTIVE", "summation_type": "PLAN",
                       "units": "GY", "referenced_plan_uid", "referenced_beam_number",
                       "shape_zyx": [nz, ny, nx], "spacing_mm": {"x", "y", "z": float | null,
                       "z_uniform": bool}, "extent_mm": {"x": [lo, hi], "y": [...], "z": [...]},
                       "orientation": "HFS", "frame_offsets": "relative" | "absolute" | "single frame",
                       "transfer_syntax_uid", "dose_grid_scaling"}],
            "structure_set": null | {"path", "sop_instance_uid", "label", "frame_of_reference_uid",
                       "referenced_series_uid",
                       "rois": [{"number", "name", "interpreted_type", "color_rgb",
                                 "n_contours", "n_planes", "plane_spacing_mm", "empty"}]},
            "ct_series": null | {"series_instance_uid", "n_slices", "shape_zyx", "spacing_mm",
                       "extent_mm", "orientation", "first_path"}}]}],
      "registrations": [{"path", "kind": "rigid", "source_frame_uid", "target_frame_uid",
                         "source_course", "target_course", "matrix": [[4 x 4]],
                         "rotation_deg", "translation_mm": [x, y, z], "is_rigid"}],
      "deformable_registrations": [{"path", "source_frame_uid", "target_frame_uid",
                         "grid_dimensions_xyz", "resolution_mm", "max_displacement_mm"}],
      "skipped": [{"path", "reason"}],
      "errors": [{"message", "path", "tag"}],
      "warnings": [{"message", "path", "tag"}]
    }
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dosimetry.errors import ConsistencyError, InputFileError

if TYPE_CHECKING:
    import numpy as np

    from dosimetry.grid import RectilinearGrid
    from dosimetry.io import CourseEntry, Discovery
    from dosimetry.io.dose_reader import DoseHeader
    from dosimetry.plan import Plan
    from dosimetry.registration import RigidRegistration
    from dosimetry.structures import StructureSet

# numpy and the loaders (pydicom) are imported by the functions that use them, not when the parser is built.

EXIT_OK = 0
EXIT_CONSISTENCY_ERRORS = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "inspect",
        description=__doc__.split("JSON shape")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="folder (scanned recursively) or DICOM file")
    parser.add_argument("--json", action="store_true", help="print the JSON described in the module docstring")
    parser.set_defaults(handler=run)


def _load_single_file(path: Path) -> None:
    """Load a lone file completely with its loader so a bad file fails loudly."""
    from dosimetry.io import (
        load_ct_series,
        load_deformable_registrations,
        load_dose,
        load_plan,
        load_registrations,
        load_structure_set,
    )
    from dosimetry.io.dicom_file import (
        CT_IMAGE,
        DEFORMABLE_SPATIAL_REGISTRATION,
        RT_DOSE,
        RT_ION_PLAN,
        RT_PLAN,
        RT_STRUCTURE_SET,
        SPATIAL_REGISTRATION,
        describe_sop_class,
        read_dicom,
        sop_class_uid,
    )

    ds = read_dicom(path, stop_before_pixels=True)
    uid = sop_class_uid(ds)
    loaders: dict[str, Callable[..., object]] = {
        RT_DOSE: load_dose,
        RT_PLAN: load_plan,
        RT_ION_PLAN: load_plan,
        RT_STRUCTURE_SET: load_structure_set,
        SPATIAL_REGISTRATION: load_registrations,
        DEFORMABLE_SPATIAL_REGISTRATION: load_deformable_registrations,
        CT_IMAGE: load_ct_series,
    }
    loader = loaders.get(uid)
    if loader is None:
        modality = ds.get("Modality", "")
        raise InputFileError(
            f"{path}: {describe_sop_class(uid)} (Modality {modality or 'absent'}) is not an object dosimetry reads; "
            "expected CT, RT Structure Set, RT Plan, RT Ion Plan, RT Dose or Spatial Registration"
        )
    if uid == RT_DOSE:
        header_units = str(ds.get("DoseUnits", "")).upper()
        # RELATIVE doses are loadable with a normalisation; inspection shows them and flags the units
        if header_units == "RELATIVE":
            load_dose(path, normalisation_gy=1.0)
            return
    loader(path)


def run(args: argparse.Namespace) -> int:
    import json

    from dosimetry.io import discover

    path: Path = args.path
    if not path.exists():
        raise InputFileError(f"{path}: no such file or folder")
    if path.is_file():
        _load_single_file(path)
    result = discover(path)
    if not result.files:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in result.skipped[:3])
        raise InputFileError(f"{path}: no usable DICOM file found" + (f" ({reasons})" if reasons else ""))
    payload = to_json(result)
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        print(_text(payload))
    return EXIT_CONSISTENCY_ERRORS if result.errors else EXIT_OK


# ----------------------------------------------------------------------------- JSON


def _num(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _grid_json(grid: RectilinearGrid) -> dict[str, Any]:
    import numpy as np

    (x0, x1), (y0, y1), (z0, z1) = grid.bounds_mm()
    z_steps = np.diff(grid.z_mm)
    return {
        "shape_zyx": list(grid.shape_zyx),
        "spacing_mm": {
            "x": _num(grid.spacing_x_mm),
            "y": _num(grid.spacing_y_mm),
            "z": _num(float(z_steps[0])) if z_steps.size and grid.z_is_uniform else (
                _num(float(grid.slice_thickness_mm[0])) if grid.z_mm.size == 1 else None
            ),
            "z_uniform": grid.z_is_uniform,
        },
        "extent_mm": {"x": [_num(x0), _num(x1)], "y": [_num(y0), _num(y1)], "z": [_num(z0), _num(z1)]},
    }


def _plan_json(plan: Plan) -> dict[str, Any]:
    from dosimetry.io import dose_per_fraction_gy, plan_type

    try:
        fractions: int | None = plan.fractions_planned
    except ConsistencyError:
        fractions = None
    return {
        "path": str(plan.source_path),
        "sop_instance_uid": plan.sop_instance_uid,
        "kind": plan.kind.value,
        "plan_type": plan_type(plan),
        "label": plan.label,
        "name": plan.name,
        "fractions": fractions,
        "dose_per_fraction_gy": _num(dose_per_fraction_gy(plan)) if fractions is not None else None,
        "prescription_gy": _num(plan.target_prescription_dose_gy),
        "manufacturer": plan.manufacturer,
        "model_name": plan.model_name,
        "approval_status": plan.approval_status,
        "referenced_structure_set_uid": plan.referenced_structure_set_uid,
        "fraction_groups": [
            {
                "number": g.number,
                "fractions_planned": g.fractions_planned,
                "beams": [
                    {
                        "number": b.number,
                        "name": b.name,
                        "radiation_type": b.radiation_type.value,
                        "atomic_number": b.atomic_number,
                        "mass_number": b.mass_number,
                        "dose_per_fraction_gy": _num(b.dose_per_fraction_gy),
                        "meterset": _num(b.meterset),
                    }
                    for b in g.beams
                ],
            }
            for g in plan.fraction_groups
        ],
        "prescriptions": [
            {
                "number": p.number,
                "dose_reference_type": p.dose_reference_type,
                "structure_type": p.structure_type,
                "description": p.description,
                "target_prescription_dose_gy": _num(p.target_prescription_dose_gy),
                "delivery_maximum_dose_gy": _num(p.delivery_maximum_dose_gy),
                "organ_at_risk_maximum_dose_gy": _num(p.organ_at_risk_maximum_dose_gy),
            }
            for p in plan.prescriptions
        ],
    }


def _dose_json(d: DoseHeader) -> dict[str, Any]:
    return {
        "path": str(d.path),
        "sop_instance_uid": d.sop_instance_uid,
        "dose_type": d.dose_type.value,
        "summation_type": d.summation_type.value,
        "units": d.dose_units,
        "referenced_plan_uid": d.referenced_plan_uid,
        "referenced_beam_number": d.referenced_beam_number,
        **_grid_json(d.grid),
        "orientation": d.orientation,
        "frame_offsets": d.offsets_interpretation,
        "transfer_syntax_uid": d.transfer_syntax_uid,
        "dose_grid_scaling": d.dose_grid_scaling,
    }


def _ss_json(ss: StructureSet) -> dict[str, Any]:
    from dosimetry.io.structure_reader import contour_plane_spacing_mm

    return {
        "path": str(ss.source_path),
        "sop_instance_uid": ss.sop_instance_uid,
        "label": ss.label,
        "frame_of_reference_uid": ss.frame_of_reference_uid,
        "referenced_series_uid": ss.referenced_series_uid,
        "rois": [
            {
                "number": r.number,
                "name": r.name,
                "interpreted_type": r.interpreted_type,
                "color_rgb": list(r.color_rgb) if r.color_rgb else None,
                "n_contours": len(r.contours),
                "n_planes": int(r.contour_planes_mm().size),
                "plane_spacing_mm": _num(contour_plane_spacing_mm(r)),
                "empty": r.is_empty,
            }
            for r in ss.rois
        ],
    }


def _course_json(c: CourseEntry) -> dict[str, Any]:
    ct = c.ct_series
    return {
        "label": c.label,
        "frame_of_reference_uid": c.frame_of_reference_uid,
        "study_instance_uid": c.study_instance_uid,
        "plans": [_plan_json(p) for p in c.plans],
        "doses": [_dose_json(d) for d in c.doses],
        "structure_set": _ss_json(c.structure_set) if c.structure_set else None,
        "ct_series": None
        if ct is None
        else {
            "series_instance_uid": ct.series_instance_uid,
            "n_slices": ct.n_slices,
            **_grid_json(ct.grid),
            "orientation": ct.orientation,
            "first_path": str(ct.slice_paths[0]),
        },
    }


def _rotation_deg(m: np.ndarray) -> float:
    import numpy as np

    cos = (float(np.trace(m[:3, :3])) - 1.0) / 2.0
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _registration_json(r: RigidRegistration, result: Discovery) -> dict[str, Any]:
    source = result.course_of_frame(r.source_frame_uid)
    target = result.course_of_frame(r.target_frame_uid)
    return {
        "path": str(r.source_path),
        "kind": "rigid",
        "source_frame_uid": r.source_frame_uid,
        "target_frame_uid": r.target_frame_uid,
        "source_course": source.label if source else None,
        "target_course": target.label if target else None,
        "matrix": [[_num(v, 6) for v in row] for row in r.matrix.tolist()],
        "rotation_deg": _num(_rotation_deg(r.matrix)),
        "translation_mm": [_num(v) for v in r.matrix[:3, 3]],
        "is_rigid": r.is_rigid,
    }


def to_json(result: Discovery) -> dict[str, Any]:
    """The ``--json`` document (shape in the module docstring)."""
    def issue(i: Any) -> dict[str, Any]:
        return {"message": i.message, "path": str(i.path) if i.path else None, "tag": i.tag}

    return {
        "paths": [str(p) for p in result.roots],
        "n_files_indexed": len(result.files),
        "patients": [
            {
                "patient_id": p.patient_id,
                "patient_name": p.patient_name,
                "study_instance_uids": list(p.study_instance_uids),
                "courses": [_course_json(c) for c in p.courses],
            }
            for p in result.patients
        ],
        "registrations": [_registration_json(r, result) for r in result.registrations],
        "deformable_registrations": [
            {
                "path": str(d.source_path),
                "source_frame_uid": d.source_frame_uid,
                "target_frame_uid": d.target_frame_uid,
                "grid_dimensions_xyz": list(d.grid_dimensions_xyz),
                "resolution_mm": list(d.resolution_mm),
                "max_displacement_mm": _num(d.max_displacement_mm),
            }
            for d in result.deformable_registrations
        ],
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in result.skipped],
        "errors": [issue(i) for i in result.errors],
        "warnings": [issue(i) for i in result.warnings],
    }


# ----------------------------------------------------------------------------- text


def _extent(g: dict[str, Any]) -> str:
    e = g["extent_mm"]
    s = g["spacing_mm"]
    z = f"{s['z']:g}" if s["z"] is not None else "non-uniform"
    return (
        f"{'x'.join(str(n) for n in reversed(g['shape_zyx']))} voxels (x,y,z), spacing {s['x']:g} x {s['y']:g} x {z} mm, "
        f"x {e['x'][0]:g}..{e['x'][1]:g}, y {e['y'][0]:g}..{e['y'][1]:g}, z {e['z'][0]:g}..{e['z'][1]:g} mm"
    )


def _text(doc: dict[str, Any]) -> str:
    lines: list[str] = [f"{doc['n_files_indexed']} DICOM file(s) indexed under {', '.join(doc['paths'])}"]
    for p in doc["patients"]:
        lines.append(f"patient {p['patient_id'] or '(no id)'} {p['patient_name']}: {len(p['courses'])} course(s)")
        for c in p["courses"]:
            lines.append(f"  {c['label']}  [frame {c['frame_of_reference_uid']}]")
            for pl in c["plans"]:
                dpf = f"{pl['dose_per_fraction_gy']:g} Gy/fx" if pl["dose_per_fraction_gy"] is not None else "dose/fx unknown"
                fx = f"{pl['fractions']} fractions" if pl["fractions"] is not None else "fractions unknown"
                rx = f", prescription {pl['prescription_gy']:g} Gy" if pl["prescription_gy"] is not None else ""
                lines.append(
                    f"    plan {pl['label']!r}: {pl['plan_type']}, {fx}, {dpf}{rx}; {pl['manufacturer']} {pl['model_name']}, "
                    f"{pl['approval_status'] or 'approval unknown'}  ({pl['path']})"
                )
            for d in c["doses"]:
                lines.append(
                    f"    dose {d['dose_type']} {d['summation_type']} {d['units']}: {_extent(d)}, {d['orientation'] or 'other orientation'}  ({d['path']})"
                )
            ss = c["structure_set"]
            if ss:
                names = ", ".join(r["name"] + (" (empty)" if r["empty"] else "") for r in ss["rois"])
                lines.append(f"    structure set {ss['label']!r}: {len(ss['rois'])} ROIs: {names}  ({ss['path']})")
            ct = c["ct_series"]
            if ct:
                lines.append(f"    CT series: {ct['n_slices']} slices, {_extent(ct)}")
    for r in doc["registrations"]:
        lines.append(
            f"registration {r['source_course'] or r['source_frame_uid']} -> {r['target_course'] or r['target_frame_uid']}: "
            f"rotation {r['rotation_deg']:g} deg, translation {r['translation_mm']} mm  ({r['path']})"
        )
    for d in doc["deformable_registrations"]:
        lines.append(f"deformable registration {d['source_frame_uid']} -> {d['target_frame_uid']}: grid {d['grid_dimensions_xyz']}, max displacement {d['max_displacement_mm']} mm")
    for s in doc["skipped"]:
        lines.append(f"skipped {s['path']}: {s['reason']}")
    for e in doc["errors"]:
        lines.append(f"ERROR: {e['message']}")
    for w in doc["warnings"]:
        lines.append(f"warning: {w['message']}")
    return "\n".join(lines)
