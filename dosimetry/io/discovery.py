"""Find, index and link the DICOM objects of an export (one folder, recursively, or given files).

Files are indexed by SOP class and UIDs and grouped by patient, study and frame of reference. The
planning-system links are followed: RT Dose -> (ReferencedRTPlanSequence) RT Plan / RT Ion Plan ->
(ReferencedStructureSetSequence) RT Structure Set -> (RTReferencedSeriesSequence) CT series.

A *course* is the set of plans of one patient in one frame of reference with their doses, structure
set and CT series (a current carbon course and a prior photon course exported together are two
courses; an initial plan and its boost planned on the same CT are one course). Spatial
registrations are listed with the courses they connect.

Nothing here aborts a scan: unreadable or non-DICOM files are skipped with the reason, objects that
fail to load are reported as errors, and consistency problems become :class:`Issue` entries
(severity "error" or "warning") naming the file, the tag and what was expected. Voxel data are not
read (RT Dose headers only), so discovery is cheap; load the dose with :func:`load_dose`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from dosimetry.errors import ConsistencyError, DosimetryError, InputFileError
from dosimetry.io.ct_reader import CtSeries, ct_series_from_headers
from dosimetry.io.dicom_file import (
    CT_IMAGE,
    DEFORMABLE_SPATIAL_REGISTRATION,
    RT_DOSE,
    RT_ION_PLAN,
    RT_PLAN,
    RT_STRUCTURE_SET,
    SPATIAL_REGISTRATION,
    check_pixel_data_extent,
    describe_sop_class,
    expect_sop_class,
    read_dicom,
    sop_class_uid,
    tag_label,
    text,
)
from dosimetry.io.dose_reader import DoseHeader, read_dose_header
from dosimetry.io.folder_walk import SkippedFile, walk_files
from dosimetry.io.plan_reader import plan_from_dataset
from dosimetry.io.registration_reader import (
    DeformableRegistration,
    deformable_registrations_from_dataset,
    registrations_from_dataset,
)
from dosimetry.io.structure_reader import structure_set_from_dataset
from dosimetry.plan import Plan, PlanKind, RadiationType
from dosimetry.registration import RigidRegistration
from dosimetry.structures import StructureSet

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Issue:
    """A consistency finding. ``severity`` is "error" or "warning"; ``tag`` names the DICOM tag."""

    severity: str
    message: str
    path: Path | None = None
    tag: str = ""


@dataclass(frozen=True)
class DicomFileEntry:
    """The index entry of one readable DICOM file."""

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    modality: str
    patient_id: str
    patient_name: str
    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str

    @property
    def sop_class_name(self) -> str:
        return describe_sop_class(self.sop_class_uid)


@dataclass(frozen=True, eq=False)
class CourseEntry:
    """Plans of one patient in one frame of reference, with their doses (headers only), structure set
    and CT, as found by discovery. Not :class:`dosimetry.radiobiology.course.Course`, which is one
    course *loaded* (its dose in Gy, summed or checked) for an analysis."""

    label: str
    patient_id: str
    study_instance_uid: str
    frame_of_reference_uid: str
    plans: tuple[Plan, ...]
    doses: tuple[DoseHeader, ...]
    structure_set: StructureSet | None
    ct_series: CtSeries | None

    @property
    def plan(self) -> Plan:
        """The course's single plan; ConsistencyError when it has none or several."""
        if len(self.plans) != 1:
            raise ConsistencyError(f"{self.label} has {len(self.plans)} plans; expected exactly one")
        return self.plans[0]

    @property
    def is_ion(self) -> bool:
        return any(p.kind is PlanKind.RT_ION_PLAN for p in self.plans)


@dataclass(frozen=True, eq=False)
class PatientEntry:
    patient_id: str
    patient_name: str
    study_instance_uids: tuple[str, ...]
    courses: tuple[CourseEntry, ...]


@dataclass(frozen=True, eq=False)
class Discovery:
    """Everything found under the scanned paths."""

    roots: tuple[Path, ...]
    files: tuple[DicomFileEntry, ...]
    skipped: tuple[SkippedFile, ...]
    patients: tuple[PatientEntry, ...]
    registrations: tuple[RigidRegistration, ...]
    deformable_registrations: tuple[DeformableRegistration, ...]
    issues: tuple[Issue, ...] = field(default=())

    @property
    def courses(self) -> tuple[CourseEntry, ...]:
        return tuple(c for p in self.patients for c in p.courses)

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    def files_in_frame(self, frame_of_reference_uid: str) -> tuple[DicomFileEntry, ...]:
        return tuple(f for f in self.files if f.frame_of_reference_uid == frame_of_reference_uid)

    def course_of_frame(self, frame_of_reference_uid: str) -> CourseEntry | None:
        for c in self.courses:
            if c.frame_of_reference_uid == frame_of_reference_uid:
                return c
        return None

    def registration_between(self, frame_a: str, frame_b: str) -> RigidRegistration | None:
        """A rigid registration mapping ``frame_a`` onto ``frame_b`` (inverted if stored the other way)."""
        for r in self.registrations:
            if r.source_frame_uid == frame_a and r.target_frame_uid == frame_b:
                return r
            if r.source_frame_uid == frame_b and r.target_frame_uid == frame_a:
                return r.inverse()
        return None


def dose_per_fraction_gy(plan: Plan) -> float | None:
    """Dose per fraction of a plan: the sum of its beams' BeamDose in its (single) fraction group,
    else the target prescription divided by the fractions; None when neither is given."""
    if len(plan.fraction_groups) == 1:
        beams = plan.fraction_groups[0].beams
        if beams and all(b.dose_per_fraction_gy is not None for b in beams):
            return float(sum(b.dose_per_fraction_gy for b in beams if b.dose_per_fraction_gy is not None))
        if plan.target_prescription_dose_gy is not None:
            return plan.target_prescription_dose_gy / plan.fraction_groups[0].fractions_planned
    return None


def plan_type(plan: Plan) -> str:
    """"RT Ion Plan ION 6/12", "RT Plan PHOTON", ... (kind, radiation types, ion species)."""
    kind = "RT Ion Plan" if plan.kind is PlanKind.RT_ION_PLAN else "RT Plan"
    parts = []
    seen = set()
    for g in plan.fraction_groups:
        for b in g.beams:
            label = b.radiation_type.value
            if b.radiation_type is RadiationType.ION:
                label += f" {b.atomic_number}/{b.mass_number}"
            if label not in seen:
                seen.add(label)
                parts.append(label)
    return kind + (" " + ", ".join(parts) if parts else "")


def _reason(exc: Exception, path: Path) -> str:
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _expand(paths: str | Path | Iterable[str | Path]) -> tuple[tuple[Path, ...], list[Path], list[SkippedFile]]:
    roots = (Path(paths),) if isinstance(paths, (str, Path)) else tuple(Path(p) for p in paths)
    if not roots:
        raise InputFileError("discover: no path given")
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    for root in roots:
        if not root.exists():
            raise InputFileError(f"{root}: no such file or folder")
        if root.is_dir():
            walk = walk_files(root)
            files.extend(walk.files)
            skipped.extend(walk.skipped)
        else:
            files.append(root)
    return roots, files, skipped


def discover(paths: str | Path | Sequence[str | Path]) -> Discovery:
    """Scan ``paths`` (folders recursively, or files) and link what they hold."""
    roots, files, skipped = _expand(paths)
    issues: list[Issue] = []
    entries: list[DicomFileEntry] = []
    plans: dict[str, Plan] = {}
    structure_sets: dict[str, StructureSet] = {}
    doses: list[DoseHeader] = []
    registrations: list[RigidRegistration] = []
    deformables: list[DeformableRegistration] = []
    ct_files: dict[str, list[tuple[Path, Dataset]]] = defaultdict(list)
    entry_of: dict[str, DicomFileEntry] = {}

    def failed(path: Path, exc: Exception, what: str) -> None:
        message = str(exc)
        skipped.append(SkippedFile(path, _reason(exc, path)))
        issues.append(Issue("error", f"{what} could not be loaded: {message}", path))

    for path in files:
        if path.name.upper() == "DICOMDIR":
            skipped.append(SkippedFile(path, "DICOMDIR media directory (not needed; files are scanned directly)"))
            continue
        try:
            ds = read_dicom(path, stop_before_pixels=True)
        except DosimetryError as exc:
            skipped.append(SkippedFile(path, _reason(exc, path)))
            continue
        sop_class = sop_class_uid(ds)
        entry = DicomFileEntry(
            path=path,
            sop_class_uid=sop_class,
            sop_instance_uid=text(ds, "SOPInstanceUID"),
            modality=text(ds, "Modality"),
            patient_id=text(ds, "PatientID"),
            patient_name=text(ds, "PatientName"),
            study_instance_uid=text(ds, "StudyInstanceUID"),
            series_instance_uid=text(ds, "SeriesInstanceUID"),
            frame_of_reference_uid=text(ds, "FrameOfReferenceUID"),
        )
        if entry.sop_instance_uid in entry_of:
            other = entry_of[entry.sop_instance_uid]
            skipped.append(SkippedFile(path, f"duplicate of {other.path} (same SOPInstanceUID {entry.sop_instance_uid})"))
            issues.append(Issue("warning", f"{path}: duplicate SOP Instance UID of {other.path}; the first file is used", path, tag_label("SOPInstanceUID")))
            continue
        try:
            if sop_class == RT_DOSE:
                header = read_dose_header(path, ds)
                check_pixel_data_extent(path)  # a truncated dose is refused here, as when it is loaded
                doses.append(header)
            elif sop_class in (RT_PLAN, RT_ION_PLAN):
                plan = plan_from_dataset(ds, path)
                plans[plan.sop_instance_uid] = plan
            elif sop_class == RT_STRUCTURE_SET:
                ss = structure_set_from_dataset(ds, path)
                structure_sets[ss.sop_instance_uid] = ss
                entry = DicomFileEntry(**{**entry.__dict__, "frame_of_reference_uid": ss.frame_of_reference_uid})
            elif sop_class == SPATIAL_REGISTRATION:
                registrations.extend(registrations_from_dataset(ds, path))
            elif sop_class == DEFORMABLE_SPATIAL_REGISTRATION:
                deformables.extend(deformable_registrations_from_dataset(ds, path))
            elif sop_class == CT_IMAGE:
                expect_sop_class(ds, path, [CT_IMAGE])
                ct_files[entry.series_instance_uid].append((path, ds))
            else:
                skipped.append(SkippedFile(path, f"{describe_sop_class(sop_class)} (Modality {entry.modality or 'absent'}) is not used"))
        except DosimetryError as exc:
            failed(path, exc, describe_sop_class(sop_class))
            continue
        entries.append(entry)
        entry_of[entry.sop_instance_uid] = entry

    series: dict[str, CtSeries] = {}
    for series_uid, headers in ct_files.items():
        first_path = headers[0][0]
        try:
            series[series_uid] = ct_series_from_headers(headers, series_instance_uid=series_uid, where=str(first_path.parent))
        except DosimetryError as exc:
            issues.append(Issue("error", f"CT series {series_uid} could not be assembled: {exc}", first_path))
            continue
        issues.extend(Issue("warning", w, first_path, tag_label("ImagePositionPatient")) for w in series[series_uid].warnings)

    patients = _link(entries, entry_of, plans, structure_sets, doses, series, registrations, deformables, issues)
    return Discovery(
        roots=roots,
        files=tuple(entries),
        skipped=tuple(skipped),
        patients=patients,
        registrations=tuple(registrations),
        deformable_registrations=tuple(deformables),
        issues=tuple(issues),
    )


def _link(
    entries: list[DicomFileEntry],
    entry_of: dict[str, DicomFileEntry],
    plans: dict[str, Plan],
    structure_sets: dict[str, StructureSet],
    doses: list[DoseHeader],
    series: dict[str, CtSeries],
    registrations: list[RigidRegistration],
    deformables: list[DeformableRegistration],
    issues: list[Issue],
) -> tuple[PatientEntry, ...]:
    ref_plan_tag = tag_label("ReferencedRTPlanSequence")
    # --- the frame of each plan: its own, else its structure set's, else its doses'
    doses_of_plan: dict[str, list[DoseHeader]] = defaultdict(list)
    orphan_doses: list[DoseHeader] = []
    for d in doses:
        issues.extend(Issue("warning", w, d.path) for w in d.warnings if "ReferencedRTPlanSequence" not in w)
        if d.referenced_plan_uid is None:
            issues.append(Issue("error", f"{d.path}: RT Dose has no {ref_plan_tag}; expected a reference to its plan", d.path, ref_plan_tag))
            orphan_doses.append(d)
        elif d.referenced_plan_uid not in plans:
            issues.append(
                Issue(
                    "error",
                    f"{d.path}: {ref_plan_tag} references plan {d.referenced_plan_uid}, which is not among the scanned files",
                    d.path,
                    ref_plan_tag,
                )
            )
            orphan_doses.append(d)
        else:
            doses_of_plan[d.referenced_plan_uid].append(d)

    def plan_frame(plan: Plan) -> str:
        if plan.frame_of_reference_uid:
            return plan.frame_of_reference_uid
        ss = structure_sets.get(plan.referenced_structure_set_uid or "")
        if ss is not None:
            return ss.frame_of_reference_uid
        ds_ = doses_of_plan.get(plan.sop_instance_uid)
        return ds_[0].frame_of_reference_uid if ds_ else ""

    def patient_of(uid: str) -> tuple[str, str]:
        e = entry_of.get(uid)
        return (e.patient_id, e.study_instance_uid) if e else ("", "")

    groups: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: {"plans": [], "doses": [], "ss": [], "ct": []})
    for plan in plans.values():
        patient_id, _study = patient_of(plan.sop_instance_uid)
        key = (patient_id, plan_frame(plan))
        groups[key]["plans"].append(plan)
        groups[key]["doses"].extend(doses_of_plan.get(plan.sop_instance_uid, []))
    for d in orphan_doses:
        groups[(patient_of(d.sop_instance_uid)[0], d.frame_of_reference_uid)]["doses"].append(d)
    used_ss: set[str] = set()
    for g in groups.values():
        for plan in g["plans"]:
            uid = plan.referenced_structure_set_uid
            if uid is None:
                issues.append(Issue("warning", f"{plan.source_path}: plan has no {tag_label('ReferencedStructureSetSequence')}", plan.source_path))
            elif uid not in structure_sets:
                issues.append(
                    Issue(
                        "error",
                        f"{plan.source_path}: {tag_label('ReferencedStructureSetSequence')} references structure set {uid}, "
                        "which is not among the scanned files",
                        plan.source_path,
                        tag_label("ReferencedStructureSetSequence"),
                    )
                )
            elif uid not in g["ss"]:
                g["ss"].append(uid)
                used_ss.add(uid)
    for uid, ss in structure_sets.items():
        if uid in used_ss:
            continue
        patient_id = patient_of(uid)[0]
        key = (patient_id, ss.frame_of_reference_uid)
        groups[key]["ss"].append(uid)
    used_series: set[str] = set()
    for g in groups.values():
        for uid in g["ss"]:
            ss = structure_sets[uid]
            if ss.referenced_series_uid and ss.referenced_series_uid in series and ss.referenced_series_uid not in g["ct"]:
                g["ct"].append(ss.referenced_series_uid)
                used_series.add(ss.referenced_series_uid)
            elif ss.referenced_series_uid and ss.referenced_series_uid not in series:
                issues.append(
                    Issue(
                        "warning",
                        f"{ss.source_path}: references CT series {ss.referenced_series_uid} ({tag_label('RTReferencedSeriesSequence')}), "
                        "which is not among the scanned files",
                        ss.source_path,
                        tag_label("RTReferencedSeriesSequence"),
                    )
                )
    for uid, ct in series.items():
        if uid not in used_series:
            key = (ct.patient_id, ct.frame_of_reference_uid)
            groups[key]["ct"].append(uid)

    reg_frames = {(r.source_frame_uid, r.target_frame_uid) for r in registrations} | {
        (r.source_frame_uid, r.target_frame_uid) for r in deformables
    }

    def registered(a: str, b: str) -> bool:
        return (a, b) in reg_frames or (b, a) in reg_frames

    by_patient: dict[str, list[CourseEntry]] = defaultdict(list)
    for (patient_id, frame), g in sorted(groups.items(), key=lambda kv: (kv[0][0], _sort_key(kv[1]))):
        course_plans = tuple(g["plans"])
        ss_list = [structure_sets[u] for u in g["ss"]]
        if len(ss_list) > 1:
            issues.append(
                Issue("warning", f"course in frame {frame} has {len(ss_list)} structure sets "
                      f"({', '.join(str(s.source_path) for s in ss_list)}); the first is used", ss_list[1].source_path)
            )
        ct_list = [series[u] for u in g["ct"]]
        if len(ct_list) > 1:
            issues.append(Issue("warning", f"course in frame {frame} has {len(ct_list)} CT series; the first is used", ct_list[1].slice_paths[0]))
        study = ""
        for uid in [p.sop_instance_uid for p in course_plans] + [d.sop_instance_uid for d in g["doses"]] + g["ss"]:
            study = patient_of(uid)[1]
            if study:
                break
        if not study and ct_list:
            study = ct_list[0].study_instance_uid
        n = len(by_patient[patient_id]) + 1
        course = CourseEntry(
            label=f"course {n} ({_describe(course_plans)})",
            patient_id=patient_id,
            study_instance_uid=study,
            frame_of_reference_uid=frame,
            plans=course_plans,
            doses=tuple(g["doses"]),
            structure_set=ss_list[0] if ss_list else None,
            ct_series=ct_list[0] if ct_list else None,
        )
        _check_course(course, registered, issues)
        by_patient[patient_id].append(course)

    patients: list[PatientEntry] = []
    for patient_id, courses in by_patient.items():
        files = [e for e in entries if e.patient_id == patient_id]
        names = sorted({e.patient_name for e in files if e.patient_name})
        studies = tuple(sorted({e.study_instance_uid for e in files if e.study_instance_uid}))
        frames = [c.frame_of_reference_uid for c in courses if c.plans]
        for i, a in enumerate(frames):
            for b in frames[i + 1:]:
                if a != b and not registered(a, b):
                    issues.append(
                        Issue(
                            "warning",
                            f"patient {patient_id}: courses in frames {a} and {b} with no Spatial Registration between them; "
                            "their doses cannot be combined",
                            None,
                            tag_label("FrameOfReferenceUID"),
                        )
                    )
        patients.append(PatientEntry(patient_id, names[0] if names else "", studies, tuple(courses)))
    return tuple(patients)


def _sort_key(group: dict[str, list]) -> tuple[int, str]:
    plans = group["plans"]
    # ion (current) courses first, then by the plan's path for a stable order
    ion = any(p.kind is PlanKind.RT_ION_PLAN for p in plans)
    first = str(plans[0].source_path) if plans else ""
    return (0 if ion else 1 if plans else 2, first)


def _describe(plans: tuple[Plan, ...]) -> str:
    if not plans:
        return "no plan"
    parts = []
    for p in plans:
        try:
            fractions = f"{p.fractions_planned} fx"
        except ConsistencyError:
            fractions = "fractions unknown"
        parts.append(f"{plan_type(p)} {p.label!r}, {fractions}")
    return "; ".join(parts)


def _check_course(course: CourseEntry, registered: Callable[[str, str], bool], issues: list[Issue]) -> None:
    fg_tag = tag_label("FractionGroupSequence")
    for plan in course.plans:
        issues.extend(Issue("warning", w, plan.source_path) for w in plan.warnings)
        try:
            _ = plan.fractions_planned
        except ConsistencyError as exc:
            issues.append(Issue("error", f"{exc} (expected {tag_label('NumberOfFractionsPlanned')} in {fg_tag})", plan.source_path, fg_tag))
    ss = course.structure_set
    if ss is not None:
        issues.extend(Issue("warning", w, ss.source_path) for w in ss.warnings)
    for d in course.doses:
        units_tag = tag_label("DoseUnits")
        if d.dose_units != "GY":
            issues.append(Issue("error", f"{d.path}: {units_tag} is {d.dose_units}, expected GY (absolute dose); re-export the dose in Gy from "
                                  "the planning system (a single RELATIVE file can be read by dvh, indices and bed with --normalisation-gy GY)", d.path, units_tag))
        dose_plan = next((p for p in course.plans if p.sop_instance_uid == d.referenced_plan_uid), None)
        if dose_plan is not None and dose_plan.frame_of_reference_uid and dose_plan.frame_of_reference_uid != d.frame_of_reference_uid:
            frame_tag = tag_label("FrameOfReferenceUID")
            issues.append(
                Issue(
                    "error",
                    f"{d.path}: {frame_tag} {d.frame_of_reference_uid} differs from that of its plan {dose_plan.source_path} "
                    f"({dose_plan.frame_of_reference_uid}); expected the plan's frame",
                    d.path,
                    frame_tag,
                )
            )
        if dose_plan is not None and dose_plan.kind is PlanKind.RT_ION_PLAN and d.dose_type.value == "PHYSICAL":
            issues.append(
                Issue("warning", f"{d.path}: {tag_label('DoseType')} PHYSICAL for an ion plan; BED/EQD2 need the RBE-weighted (EFFECTIVE) dose", d.path, tag_label("DoseType"))
            )
        with_plan_dose = d.summation_type.value == "BEAM" and any(
            o.summation_type.value == "PLAN" and o.referenced_plan_uid == d.referenced_plan_uid for o in course.doses
        )
        if with_plan_dose:
            issues.append(
                Issue(
                    "warning",
                    f"{d.path}: {tag_label('DoseSummationType')} BEAM, exported with the PLAN dose of the same plan: "
                    "the PLAN dose is used and the BEAM doses are checked to sum to it",
                    d.path,
                    tag_label("DoseSummationType"),
                )
            )
        elif d.summation_type.value in ("FRACTION", "FRACTION_SESSION", "BEAM_SESSION", "BEAM"):
            issues.append(
                Issue(
                    "warning",
                    f"{d.path}: {tag_label('DoseSummationType')} {d.summation_type.value}: not a whole-plan dose"
                    + ("; sum the beam doses with load_beam_doses" if d.summation_type.value == "BEAM" else "; load with fractions= to scale it"),
                    d.path,
                    tag_label("DoseSummationType"),
                )
            )
        if ss is None:
            continue
        if d.frame_of_reference_uid != ss.frame_of_reference_uid:
            frame_tag = tag_label("FrameOfReferenceUID")
            if registered(d.frame_of_reference_uid, ss.frame_of_reference_uid):
                issues.append(Issue("warning", f"{d.path}: dose and structure set {ss.source_path} are in different frames of reference; a registration links them", d.path, frame_tag))
            else:
                issues.append(
                    Issue(
                        "error",
                        f"{d.path}: {frame_tag} {d.frame_of_reference_uid} differs from that of structure set {ss.source_path} "
                        f"({ss.frame_of_reference_uid}) and no Spatial Registration links them; expected the same frame",
                        d.path,
                        frame_tag,
                    )
                )
            continue
        _check_coverage(d, ss, issues)


def _check_coverage(dose: DoseHeader, ss: StructureSet, issues: list[Issue]) -> None:
    """Warn when an ROI's bounding box leaves the dose grid (bounding-box volume estimate only;
    the DVH engine computes the exact volume outside)."""
    (x0, x1), (y0, y1), (z0, z1) = dose.grid.bounds_mm()
    lo_grid = np.array([x0, y0, z0])
    hi_grid = np.array([x1, y1, z1])
    for roi in ss.rois:
        closed = roi.closed_planar_contours
        if not closed:
            continue
        points = np.concatenate([c.points_mm for c in closed])
        lo = points.min(axis=0)
        hi = points.max(axis=0)
        planes = roi.contour_planes_mm()
        if planes.size > 1:  # contours stand for slabs: extend by half a plane spacing
            half = 0.5 * float(np.median(np.diff(planes)))
            lo[2] -= half
            hi[2] += half
        if np.all(lo >= lo_grid - 1e-6) and np.all(hi <= hi_grid + 1e-6):
            continue
        extent = np.maximum(hi - lo, 0.0)
        inside = np.maximum(np.minimum(hi, hi_grid) - np.maximum(lo, lo_grid), 0.0)
        box_cc = float(np.prod(extent)) / 1000.0
        outside_cc = box_cc - float(np.prod(inside)) / 1000.0
        issues.append(
            Issue(
                "warning",
                f"{dose.path.name}: dose grid does not cover ROI {roi.name!r} of {ss.source_path.name if ss.source_path else 'the structure set'}: "
                f"{outside_cc:.1f} cc of its {box_cc:.1f} cc bounding box lie outside the grid "
                "(bounding-box estimate; the DVH engine reports the exact volume outside)",
                dose.path,
                tag_label("GridFrameOffsetVector"),
            )
        )
