"""Generate one synthetic patient: a current carbon-ion course and a prior photon course.

Layout written under ``<out>/<patient_id>/``::

    current/  CT_001.dcm ... CT_nnn.dcm, RS_<id>.dcm, RI_<id>.dcm (RT Ion Plan), RD_<id>.dcm
    prior/    CT_001.dcm ... CT_nnn.dcm, RS_<id>.dcm, RP_<id>.dcm (RT Plan), RD_<id>.dcm,
              RE_<id>.dcm (Spatial Registration prior frame -> current frame)

The anatomy is defined in the current course's frame. The prior CT was acquired with the patient
positioned differently: a point ``p_prior`` of the prior frame lies at ``p_current = M @ p_prior``
in the current frame, with M the rigid matrix of ``PatientSpec.prior_to_current_*``; the REG
object carries exactly M. Everything is deterministic: UIDs derive from (seed, patient id,
label), noise from a seeded generator, and dates are fixed by the spec.
"""

from __future__ import annotations

import logging
import shutil
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, OutputError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.rtdose_writer import RT_ION_PLAN_STORAGE, RT_PLAN_STORAGE, DicomIdentity, write_rt_dose
from dosimetry.sampledata.anatomy import AnatomySpec, Phantom, StructureSpec, prior_targets
from dosimetry.sampledata.contouring import contour_solid
from dosimetry.sampledata.ct_writer import write_ct_series
from dosimetry.sampledata.dose_model import BeamGeometry, carbon_dose_gy, photon_dose_gy
from dosimetry.sampledata.plan_writer import PlanBeam, PlanContent, write_ion_plan, write_photon_plan
from dosimetry.sampledata.registration_writer import write_spatial_registration
from dosimetry.sampledata.shapes import rigid_matrix
from dosimetry.sampledata.structure_writer import RoiContours, write_structure_set
from dosimetry.sampledata.uids import UidFactory

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Protocol Table 1: dose level -> fractions of 2.5 GyE.
DOSE_PER_FRACTION_GYE = 2.5
DOSE_LEVEL_FRACTIONS: dict[int, int] = {1: 21, 2: 22, 3: 23, 4: 24, 5: 25, 6: 26}

PRIOR_PRESCRIPTION_GY = 70.0
PRIOR_FRACTIONS = 33

#: Carbon beams: (name, gantry angle, Beam Dose share of the 2.5 GyE fraction).
CARBON_BEAMS: tuple[tuple[str, float, float], ...] = (("L-LAT", 90.0, 0.34), ("R-LAT", 270.0, 0.34), ("R-POST-OBL", 220.0, 0.32))
#: Photon beams: nine equally spaced IMRT fields.
PHOTON_GANTRY_DEG: tuple[float, ...] = tuple(float(a) for a in range(0, 360, 40))

#: CT grids (both courses): 96 x 96 pixels of 2.5 mm, 49 slices of 3 mm.
CT_SPACING_MM = (2.5, 2.5, 3.0)
CT_SHAPE_ZYX = (49, 96, 96)
CT_ORIGIN_MM = (-118.75, -108.75, -84.0)
#: Current dose grid (3 mm) over the head and upper neck (all OARs of the CT), current frame.
CURRENT_DOSE_ORIGIN_MM = (-75.0, -84.0, -84.0)
CURRENT_DOSE_SHAPE_ZYX = (44, 59, 51)
#: Prior dose grid (3 mm) over nasopharynx, orbits and neck, prior frame (before the grid shift below).
PRIOR_DOSE_ORIGIN_MM = (-75.0, -84.0, -90.0)
PRIOR_DOSE_SHAPE_ZYX = (48, 59, 51)
DOSE_SPACING_MM = (3.0, 3.0, 3.0)

CT_NOISE_HU = 8.0
#: Doses are rounded to 1 uGy before writing, so that last-bit differences of exp/erf/cos between
#: CPUs and library builds cannot change the stored 32-bit pixel values (byte-identical output).
DOSE_DECIMALS = 6


@dataclass(frozen=True)
class PatientSpec:
    """Everything that defines one synthetic patient (the generator's ground truth)."""

    patient_id: str
    patient_name: str
    seed: int
    anatomy: AnatomySpec = field(default_factory=AnatomySpec)
    dose_level: int = 2
    prior_to_current_angles_deg: tuple[float, float, float] = (2.0, -1.5, 4.0)
    prior_to_current_translation_mm: tuple[float, float, float] = (8.0, -5.0, 4.0)
    birth_date: str = "19650412"
    sex: str = "M"
    current_study_date: str = "20240315"
    current_study_time: str = "091500"
    prior_study_date: str = "20190611"
    prior_study_time: str = "101000"

    def __post_init__(self) -> None:
        if self.dose_level not in DOSE_LEVEL_FRACTIONS:
            raise ArgumentError(f"dose_level must be one of {sorted(DOSE_LEVEL_FRACTIONS)}, got {self.dose_level}")
        if not self.patient_id or any(c in self.patient_id for c in "/\\ "):
            raise ArgumentError(f"patient_id must be a non-empty name without slashes or spaces, got {self.patient_id!r}")

    @property
    def fractions(self) -> int:
        return DOSE_LEVEL_FRACTIONS[self.dose_level]

    @property
    def prescription_gy(self) -> float:
        return DOSE_PER_FRACTION_GYE * self.fractions

    @property
    def prior_to_current(self) -> FloatArray:
        """4x4 matrix M with p_current = M @ p_prior (homogeneous)."""
        return rigid_matrix(self.prior_to_current_angles_deg, self.prior_to_current_translation_mm)

    @property
    def prior_grid_shift_mm(self) -> tuple[float, float, float]:
        """Offset of the prior grids relative to the current ones: minus the translation rounded
        to whole voxels, so the anatomy stays in the prior field of view."""
        t = self.prior_to_current_translation_mm
        return (-2.5 * round(t[0] / 2.5), -2.5 * round(t[1] / 2.5), -3.0 * round(t[2] / 3.0))


@dataclass(frozen=True)
class CourseFiles:
    folder: Path
    ct_paths: tuple[Path, ...]
    structure_set: Path
    plan: Path
    dose: Path
    registration: Path | None
    study_instance_uid: str
    frame_of_reference_uid: str
    ct_series_uid: str
    structure_set_uid: str
    plan_uid: str
    dose_uid: str


@dataclass(frozen=True)
class GeneratedPatient:
    spec: PatientSpec
    folder: Path
    current: CourseFiles
    prior: CourseFiles


def _grid(origin: tuple[float, float, float], spacing: tuple[float, float, float], shape: tuple[int, int, int]) -> RectilinearGrid:
    return RectilinearGrid.uniform(origin, spacing, shape)


def _points(grid: RectilinearGrid) -> FloatArray:
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    return np.stack([x, y, z], axis=-1)


def _map(points: FloatArray, matrix: FloatArray) -> FloatArray:
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def _shifted(origin: tuple[float, float, float], shift: tuple[float, float, float]) -> tuple[float, float, float]:
    return (origin[0] + shift[0], origin[1] + shift[1], origin[2] + shift[2])


def _rng(spec: PatientSpec, label: str) -> np.random.Generator:
    return np.random.default_rng([spec.seed, zlib.crc32(spec.patient_id.encode()), zlib.crc32(label.encode())])


def _identity(spec: PatientSpec, course: str, uids: UidFactory) -> DicomIdentity:
    current = course == "current"
    return DicomIdentity(
        patient_id=spec.patient_id,
        patient_name=spec.patient_name,
        study_instance_uid=uids.uid(course, "study"),
        patient_birth_date=spec.birth_date,
        patient_sex=spec.sex,
        study_id="CIRT1" if current else "IMRT1",
        study_date=spec.current_study_date if current else spec.prior_study_date,
        study_time=spec.current_study_time if current else spec.prior_study_time,
        study_description="Carbon-ion re-irradiation planning" if current else "Primary IMRT planning",
        accession_number=f"A{zlib.crc32((spec.patient_id + course).encode()) % 10**8:08d}",
        referring_physician_name="Referrer^Synthetic",
        manufacturer="Synthetic Siemens" if current else "Synthetic Photon TPS",
        manufacturer_model_name="syngo RT Planning (synthetic)" if current else "IMRT Planner (synthetic)",
        software_versions="VB10-synthetic" if current else "4.2-synthetic",
        institution_name="Synthetic Proton and Heavy Ion Center" if current else "Synthetic Cancer Hospital",
        station_name="SYNPLAN1" if current else "SYNPLAN0",
        operators_name="Physicist^Synthetic",
    )


@dataclass(frozen=True)
class _CourseImaging:
    """CT and structure set of one course, as written."""

    identity: DicomIdentity
    frame_uid: str
    ct_series_uid: str
    ct_paths: tuple[Path, ...]
    rs_uid: str
    rs_path: Path


def _write_course(
    spec: PatientSpec,
    course: str,
    folder: Path,
    *,
    ct_to_anatomy: FloatArray,
    ct_shift_mm: tuple[float, float, float],
    structures: tuple[StructureSpec, ...],
    uids: UidFactory,
) -> _CourseImaging:
    """Write the CT series and the RT Structure Set of one course into ``folder``."""
    identity = _identity(spec, course, uids)
    phantom = Phantom(spec.anatomy)
    ct_grid = _grid(_shifted(CT_ORIGIN_MM, ct_shift_mm), CT_SPACING_MM, CT_SHAPE_ZYX)
    anatomy_points = _map(_points(ct_grid), ct_to_anatomy)
    hu_int = phantom.hounsfield_units(anatomy_points).astype(np.int32)
    noise = _rng(spec, f"{course}-ct-noise").normal(0.0, CT_NOISE_HU, size=hu_int.shape)
    hu = np.clip(np.rint(hu_int + noise), -1024, 3071).astype(np.int16)
    frame_uid = uids.uid(course, "frame-of-reference")
    ct_series_uid = uids.uid(course, "ct-series")
    ct = write_ct_series(
        hu,
        ct_grid,
        folder,
        identity=identity,
        series_instance_uid=ct_series_uid,
        frame_of_reference_uid=frame_uid,
        slice_uids=tuple(uids.uid(course, "ct-slice", k) for k in range(ct_grid.shape_zyx[0])),
        series_description="Planning CT head and neck" if course == "current" else "Planning CT (prior course)",
        series_number=2,
    )
    rois = tuple(
        RoiContours(
            s.name,
            s.interpreted_type,
            s.color_rgb,
            contour_solid(s.contains, s.contains(anatomy_points), ct_grid, ct_to_anatomy),
        )
        for s in structures
    )
    rs_path = folder / f"RS_{spec.patient_id}.dcm"
    rs_uid = write_structure_set(
        folder,
        rois,
        rs_path,
        identity=identity,
        sop_instance_uid=uids.uid(course, "rtstruct"),
        series_instance_uid=uids.uid(course, "rtstruct-series"),
        label="CIRT_NPC" if course == "current" else "IMRT_NPC",
        structure_set_date=identity.study_date,
        structure_set_time=identity.study_time,
        series_description="Structures",
    )
    return _CourseImaging(identity, frame_uid, ct_series_uid, ct.paths, rs_uid, rs_path)


def generate_patient(spec: PatientSpec, out_root: Path, *, overwrite: bool = False) -> GeneratedPatient:
    """Write both courses of ``spec`` to ``out_root/<patient_id>/`` and return what was written.

    An existing patient folder is replaced only with ``overwrite=True`` and only when it holds
    nothing but ``current``/``prior`` folders (a previous output of this generator).
    """
    out_root = Path(out_root)
    final = out_root / spec.patient_id
    if final.exists():
        if not overwrite:
            raise OutputError(f"{final} exists; pass overwrite=True (--overwrite) to regenerate it")
        unexpected = sorted(p.name for p in final.iterdir() if p.name not in ("current", "prior"))
        if unexpected:
            raise OutputError(f"refusing to replace {final}: it holds files the generator did not write: {unexpected}")
    staging = out_root / f".{spec.patient_id}.partial"
    try:
        if staging.exists():
            shutil.rmtree(staging)
        (staging / "current").mkdir(parents=True)
        (staging / "prior").mkdir(parents=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder under {out_root}: {exc}") from exc

    uids = UidFactory(spec.seed, spec.patient_id)
    phantom = Phantom(spec.anatomy)
    pid = spec.patient_id

    # ---- current course: carbon ions, anatomy frame = current frame --------------------------
    cur_dir = staging / "current"
    cur_structures = phantom.structures()
    cur = _write_course(
        spec, "current", cur_dir, ct_to_anatomy=np.eye(4), ct_shift_mm=(0.0, 0.0, 0.0), structures=cur_structures, uids=uids
    )
    identity, frame_uid, rs_uid = cur.identity, cur.frame_uid, cur.rs_uid
    ptv_number = 1 + [s.name for s in cur_structures].index("PTV")
    isocentre = tuple(float(round(v, 1)) for v in spec.anatomy.ptv.centroid_mm)
    plan_uid = uids.uid("current", "rtplan")
    beams = tuple(
        PlanBeam(i + 1, name, gantry, round(DOSE_PER_FRACTION_GYE * share, 6))
        for i, (name, gantry, share) in enumerate(CARBON_BEAMS)
    )
    plan = PlanContent(
        sop_instance_uid=plan_uid,
        series_instance_uid=uids.uid("current", "rtplan-series"),
        frame_of_reference_uid=frame_uid,
        label="CIRT_NPC",
        name=f"C12 rNPC DL{spec.dose_level}",
        description=f"Carbon-ion re-irradiation, dose level {spec.dose_level}: "
        f"{DOSE_PER_FRACTION_GYE:g} GyE x {spec.fractions}",
        plan_date=identity.study_date,
        plan_time=identity.study_time,
        fractions_planned=spec.fractions,
        prescription_gy=spec.prescription_gy,
        target_roi_number=ptv_number,
        target_description="PTV",
        dose_reference_uid=uids.uid("current", "dose-reference"),
        isocentre_mm=isocentre,  # type: ignore[arg-type]
        beams=beams,
        structure_set_uid=rs_uid,
    )
    ri_path = cur_dir / f"RI_{pid}.dcm"
    write_ion_plan(plan, ri_path, identity=identity)
    dose_grid = _grid(CURRENT_DOSE_ORIGIN_MM, DOSE_SPACING_MM, CURRENT_DOSE_SHAPE_ZYX)
    geometry = tuple(BeamGeometry(b.gantry_deg, b.dose_per_fraction_gy / DOSE_PER_FRACTION_GYE) for b in beams)
    dose_gy = np.round(carbon_dose_gy(phantom, _points(dose_grid), spec.prescription_gy, geometry), DOSE_DECIMALS)
    rd_path = cur_dir / f"RD_{pid}.dcm"
    dose_uid = write_rt_dose(
        DoseGrid(dose_grid, dose_gy, DoseType.EFFECTIVE, DoseSummationType.PLAN, frame_uid),
        rd_path,
        identity=identity,
        referenced_plan_uid=plan_uid,
        referenced_plan_sop_class_uid=RT_ION_PLAN_STORAGE,
        series_description="RBE-weighted dose (plan)",
        dose_comment=f"RBE-weighted dose, {spec.prescription_gy:g} GyE in {spec.fractions} fractions",
        sop_instance_uid=uids.uid("current", "rtdose"),
        series_instance_uid=uids.uid("current", "rtdose-series"),
    )
    current = _course_files(cur, ri_path, rd_path, None, plan_uid, dose_uid)

    # ---- prior course: photons, prior frame --------------------------------------------------
    pri_dir = staging / "prior"
    matrix = spec.prior_to_current
    shift = spec.prior_grid_shift_mm
    organs = tuple(s for s in cur_structures if s.interpreted_type not in ("GTV", "CTV", "PTV"))
    pri_structures = (organs[0], *prior_targets(spec.anatomy), *organs[1:])
    pri = _write_course(spec, "prior", pri_dir, ct_to_anatomy=matrix, ct_shift_mm=shift, structures=pri_structures, uids=uids)
    p_identity, p_frame, p_rs_uid = pri.identity, pri.frame_uid, pri.rs_uid
    p_plan_uid = uids.uid("prior", "rtplan")
    per_beam = round(PRIOR_PRESCRIPTION_GY / PRIOR_FRACTIONS / len(PHOTON_GANTRY_DEG), 6)
    photon_beams = tuple(
        PlanBeam(i + 1, f"G{int(g):03d}", g, per_beam) for i, g in enumerate(PHOTON_GANTRY_DEG)
    )
    inverse = np.asarray(np.linalg.inv(matrix), dtype=np.float64)
    ptv70 = next(t for t in prior_targets(spec.anatomy) if t.name == "PTV_7000").solid
    iso_anatomy = np.asarray(ptv70.centroid_mm)  # type: ignore[attr-defined]
    p_isocentre = tuple(float(round(v, 1)) for v in _map(iso_anatomy[None, :], inverse)[0])
    p_plan = PlanContent(
        sop_instance_uid=p_plan_uid,
        series_instance_uid=uids.uid("prior", "rtplan-series"),
        frame_of_reference_uid=p_frame,
        label="IMRT_NPC",
        name="NPC IMRT 70/33",
        description="Primary IMRT nasopharynx and neck: 70 Gy in 33 fractions",
        plan_date=p_identity.study_date,
        plan_time=p_identity.study_time,
        fractions_planned=PRIOR_FRACTIONS,
        prescription_gy=PRIOR_PRESCRIPTION_GY,
        target_roi_number=1 + [s.name for s in pri_structures].index("PTV_7000"),
        target_description="PTV_7000",
        dose_reference_uid=uids.uid("prior", "dose-reference"),
        isocentre_mm=p_isocentre,  # type: ignore[arg-type]
        beams=photon_beams,
        structure_set_uid=p_rs_uid,
    )
    rp_path = pri_dir / f"RP_{pid}.dcm"
    write_photon_plan(p_plan, rp_path, identity=p_identity)
    p_dose_grid = _grid(_shifted(PRIOR_DOSE_ORIGIN_MM, shift), DOSE_SPACING_MM, PRIOR_DOSE_SHAPE_ZYX)
    p_dose_gy = np.round(photon_dose_gy(phantom, _map(_points(p_dose_grid), matrix)), DOSE_DECIMALS)
    p_rd_path = pri_dir / f"RD_{pid}.dcm"
    p_dose_uid = write_rt_dose(
        DoseGrid(p_dose_grid, p_dose_gy, DoseType.PHYSICAL, DoseSummationType.PLAN, p_frame),
        p_rd_path,
        identity=p_identity,
        referenced_plan_uid=p_plan_uid,
        referenced_plan_sop_class_uid=RT_PLAN_STORAGE,
        series_description="Physical dose (plan)",
        dose_comment=f"{PRIOR_PRESCRIPTION_GY:g} Gy in {PRIOR_FRACTIONS} fractions",
        sop_instance_uid=uids.uid("prior", "rtdose"),
        series_instance_uid=uids.uid("prior", "rtdose-series"),
    )
    re_path = pri_dir / f"RE_{pid}.dcm"
    write_spatial_registration(
        re_path,
        identity=identity,  # created at re-planning, in the current study
        sop_instance_uid=uids.uid("registration"),
        series_instance_uid=uids.uid("registration-series"),
        target_frame_uid=frame_uid,
        source_frame_uid=p_frame,
        source_to_target=matrix,
        content_date=identity.study_date,
        content_time=identity.study_time,
        description="Prior planning CT registered to current CT",
    )
    prior = _course_files(pri, rp_path, p_rd_path, re_path, p_plan_uid, p_dose_uid)

    try:
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except OSError as exc:
        raise OutputError(f"cannot move the generated patient into {final}: {exc}") from exc

    logger.info("generated synthetic patient %s in %s", pid, final)
    return GeneratedPatient(spec, final, _relocated(current, final / "current"), _relocated(prior, final / "prior"))


def _course_files(
    imaging: _CourseImaging, plan: Path, dose: Path, registration: Path | None, plan_uid: str, dose_uid: str
) -> CourseFiles:
    return CourseFiles(
        folder=imaging.rs_path.parent,
        ct_paths=imaging.ct_paths,
        structure_set=imaging.rs_path,
        plan=plan,
        dose=dose,
        registration=registration,
        study_instance_uid=imaging.identity.study_instance_uid,
        frame_of_reference_uid=imaging.frame_uid,
        ct_series_uid=imaging.ct_series_uid,
        structure_set_uid=imaging.rs_uid,
        plan_uid=plan_uid,
        dose_uid=dose_uid,
    )


def _relocated(files: CourseFiles, folder: Path) -> CourseFiles:
    """The same files after their staging folder was renamed to ``folder``."""
    return replace(
        files,
        folder=folder,
        ct_paths=tuple(folder / p.name for p in files.ct_paths),
        structure_set=folder / files.structure_set.name,
        plan=folder / files.plan.name,
        dose=folder / files.dose.name,
        registration=folder / files.registration.name if files.registration else None,
    )


def reference_patient_spec(seed: int = 2026) -> PatientSpec:
    """The committed sample patient ``patient01``: nominal anatomy, dose level 2 (22 x 2.5 GyE)."""
    return PatientSpec(patient_id="patient01", patient_name="Synthetic^Patient01", seed=seed)
