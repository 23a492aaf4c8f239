"""Load a patient's current and prior course, align the prior dose and build the dose maps.

:func:`build_patient_maps` loads each course with :func:`dosimetry.radiobiology.course.load_course`
(folders from :func:`dosimetry.patient.folders.resolve_folders`), takes the current course's
structure set (same frame of reference as the current dose, else a
:class:`~dosimetry.errors.ConsistencyError`), brings the prior dose onto the current dose grid
with :func:`dosimetry.align.align_prior_dose` (same frame; a Spatial Registration or a Deformable
Spatial Registration from ``registration_path`` or found in either folder -- a deformable one is
applied when there is one, the rigid one is kept for the rigid vs deformable comparison; or
``assume_same_position``), and computes

* the current course's voxel-wise LQ maps BED and EQD2 for the late (2 Gy) and tumour (9 Gy)
  alpha/beta: keys ``BED2``, ``EQD2_2``, ``BED9``, ``EQD2_9`` (:func:`dosimetry.radiobiology.lq_map`),
  each computed when asked for (:class:`LqMapSet`: the last one asked for is kept, not all four);
* the cumulative maps ``EQD2_2_cumulative`` and ``BED2_cumulative``: current + r x prior in
  BED space (:func:`dosimetry.radiobiology.accumulate`), the quantities of the organ-at-risk checks.
  Without a prior course they equal the current course's maps, with a warning.

Every loader, alignment and radiobiology warning is collected in :attr:`PatientMaps.warnings`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar
from pathlib import Path
from dataclasses import dataclass, field, fields, replace

import numpy as np
import numpy.typing as npt

from dosimetry.align import align_prior_dose
from dosimetry.align.resample import AlignedDose
from dosimetry.quantities import DoseBasis
from dosimetry.dose import DoseGrid, DoseType
from dosimetry.errors import ArgumentError, ConsistencyError, OutputError
from dosimetry.io.rtdose_writer import EncodedDose, encode_dose
from dosimetry.plan import Plan
from dosimetry.radiobiology.lq import check_alpha_beta
from dosimetry.radiobiology import CourseDose, CumulativeMap, LqMap, DoseQuantity, SummationMethod, accumulate, lq_map
from dosimetry.radiobiology.maps import FloatArray, lq_map_preview, lq_map_slabs
from dosimetry.radiobiology.summation import accumulate_preview
from dosimetry.io.registration_reader import DeformableRegistration
from dosimetry.io.dose_reader import read_dose_header
from dosimetry.radiobiology.course import Course, course_dose, course_registrations, load_course
from dosimetry.radiobiology.export import MapFileText, cumulative_map_text, lq_map_text
from dosimetry.radiobiology.interval import CourseInterval
from dosimetry.radiobiology.recovery import DEFAULT_RESIDUAL, ConstantResidual, RecoverySelection
from dosimetry.registration import RigidRegistration
from dosimetry.radiobiology.summation import RecoveryAssignment, check_residual
from dosimetry.patient.deformable import PatientRegistration, RegisterMode, compute_patient_registration
from dosimetry.patient.folders import CourseFolders
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.recovery import OrganModel, recovery_assignment, resolve_interval
from dosimetry.structures import StructureSet

logger = logging.getLogger(__name__)

def dose_quantity_name(dose: DoseGrid) -> str:
    """``rbe_weighted`` for an EFFECTIVE (RBE-weighted, GyE) dose, ``physical`` otherwise."""
    return "rbe_weighted" if dose.dose_type is DoseType.EFFECTIVE else "physical"


def lq_key(quantity: DoseQuantity, alpha_beta_gy: float) -> str:
    """``BED2``, ``BED9``, ``EQD2_2``, ``EQD2_9`` (alpha/beta printed with ``:g``)."""
    return f"BED{alpha_beta_gy:g}" if quantity is DoseQuantity.BED else f"EQD2_{alpha_beta_gy:g}"


_M = TypeVar("_M", LqMap, CumulativeMap)


class _LastMap(Generic[_M]):
    """The last map computed, given again while its dose grid is still held by someone else (a weak
    reference to the grid: the DVH engine's per-grid tables are keyed on the grid object, so a step
    sampling the map the previous step sampled must get the same grid)."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._cls: type[_M] | None = None
        self._fields: dict[str, Any] = {}
        self._dose: weakref.ref[DoseGrid] | None = None

    def get(self, key: str) -> _M | None:
        dose = None if key != self._key or self._dose is None else self._dose()
        if dose is None or self._cls is None:
            return None
        return self._cls(**self._fields, dose=dose)

    def keep(self, key: str, computed: _M) -> _M:
        self._key, self._cls, self._dose = key, type(computed), weakref.ref(computed.dose)
        self._fields = {f.name: getattr(computed, f.name) for f in fields(computed) if f.init and f.name != "dose"}
        return computed


class PriorDoseFromFiles(DoseGrid):
    """The prior course's own dose (its grid, type, UIDs and warnings) once it is aligned, its pixels
    not held: :attr:`dose_gy` reads them again from the course's RT Dose files with the loader's
    function (:func:`~dosimetry.radiobiology.course.course_dose`: the same files, the same numbers),
    and gives the same array again while something else still holds it (a weak reference).

    Measured reason (issue 20, clinical 256 x 256 x 160 case, ``benchmarks/analyze_main_memory.py``):
    after the alignment nothing of ``analyze`` reads the prior course's pixels unless a deformable
    registration is applied (then the registration check aligns them again with the rigid
    registration, and :func:`build_patient_maps` keeps them), yet they were 80 MiB of the main
    process's memory from the loading to the end of the run, at its peak. The course's other
    fields are as loaded. Built by :meth:`release` only (not by the constructor): a changed file is a
    :class:`~dosimetry.errors.ConsistencyError` naming it."""

    _dose_paths: tuple[Path, ...]
    _plan: Plan
    _where: str

    @classmethod
    def release(cls, course: Course) -> PriorDoseFromFiles:
        """``course.dose`` without its pixels, read again from ``course.dose_paths`` when asked for."""
        dose = course.dose
        released = object.__new__(cls)
        for f in fields(DoseGrid):
            if f.name != "dose_gy":
                object.__setattr__(released, f.name, getattr(dose, f.name))
        object.__setattr__(released, "_dose_paths", course.dose_paths)
        object.__setattr__(released, "_plan", course.plan)
        object.__setattr__(released, "_where", str(course.folder))
        released.__dict__["_pixels"] = None
        return released

    @property  # type: ignore[override]
    def dose_gy(self) -> npt.NDArray[np.float64]:
        pixels = self.__dict__.get("_pixels")
        held = pixels() if isinstance(pixels, weakref.ref) else pixels
        if held is not None:
            return held  # type: ignore[no-any-return]
        logger.debug("reading the prior dose of %s again from %s", self._where, [p.name for p in self._dose_paths])
        dose = course_dose([read_dose_header(p) for p in self._dose_paths], self._plan, where=self._where).dose
        if dose.grid.shape_zyx != self.grid.shape_zyx or dose.sop_instance_uid != self.sop_instance_uid:
            raise ConsistencyError(
                f"the prior dose {', '.join(str(p) for p in self._dose_paths)} changed since it was loaded "
                f"(SOP Instance UID {dose.sop_instance_uid!r}, grid {dose.grid.shape_zyx}; loaded "
                f"{self.sop_instance_uid!r}, {self.grid.shape_zyx})"
            )
        self.__dict__["_pixels"] = weakref.ref(dose.dose_gy)
        return dose.dose_gy

    @dose_gy.setter
    def dose_gy(self, value: npt.NDArray[np.float64]) -> None:
        # DoseGrid's constructor (dataclasses.replace of a released dose): the pixels given are held
        self.__dict__["_pixels"] = value

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if isinstance(state.get("_pixels"), weakref.ref):
            state["_pixels"] = None  # read again after unpickling
        return state

    def __repr__(self) -> str:  # the dataclass's would read the pixels
        return f"{type(self).__name__}(sop_instance_uid={self.sop_instance_uid!r}, grid shape {self.grid.shape_zyx}, from {self._where})"


@dataclass(frozen=True)
class SpooledMap:
    """A map's pixels encoded into a file when the analysis computed it, and its file's texts."""

    encoded: EncodedDose
    text: MapFileText


class MapSpool:
    """The exported maps (:func:`dosimetry.patient.writers.export_maps`) encoded into files of
    ``folder`` when the analysis computes them (:meth:`PatientMaps.spooling`), so that the export
    writes them without computing them again (measured reason: :class:`~dosimetry.io.rtdose_writer.EncodedDose`).
    A map that cannot be encoded (negative values, a write error) is left to the export, which
    computes it and raises what it raised before. Each map costs its pixels on disk (4 bytes per
    voxel) until the folder is removed, no memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._maps: dict[str, SpooledMap] = {}
        self._sealed = False

    def seal(self) -> None:
        """Encode nothing more (the maps computed from now on, e.g. by the report, are left to
        :func:`~dosimetry.patient.writers.export_maps`, which computes what the spool does not hold)."""
        self._sealed = True

    def keep(self, key: str, dose: DoseGrid, text: Callable[[], MapFileText]) -> None:
        if self._sealed or key in self._maps:
            return
        try:
            encoded = encode_dose(dose, self.folder / f"{key}.pixels")
        except (ArgumentError, OutputError) as exc:
            logger.debug("map %s not encoded when computed (%s); the export computes it again", key, exc)
            return
        self._maps[key] = SpooledMap(encoded, text())

    def get(self, key: str) -> SpooledMap | None:
        return self._maps.get(key)


class LqMapSet(Mapping[str, LqMap]):
    """The current course's LQ maps by key (``BED2``, ``EQD2_2``, ...), each computed by
    :func:`~dosimetry.radiobiology.lq_map` when it is asked for; none is held: the last one asked
    for is returned again while something else still holds its grid (:class:`_LastMap`).

    Measured reason (issue 20, 256 x 256 x 160 grid): holding the four maps costs 320 MB of the
    analysis's peak; recomputing one costs about 0.1 s, and the analysis asks for each a few
    times. A recomputed map has the same values (the same call on the same dose), but it is a new
    :class:`~dosimetry.dose.DoseGrid`: per-grid caches keyed on the object are not shared with an
    earlier copy. Not thread-safe: one caller at a time (the DVH stage asks from its background
    thread while nothing else asks, :class:`~dosimetry.patient.dvhs._MapsAhead`).
    """

    def __init__(self, dose: DoseGrid, plan: Plan, specs: tuple[tuple[DoseQuantity, float], ...]) -> None:
        self._dose = dose
        self._plan = plan
        self._specs = {lq_key(quantity, ab): (quantity, ab) for ab in dict.fromkeys(ab for _, ab in specs)
                       for quantity in dict.fromkeys(q for q, _ in specs)}
        self._last: _LastMap[LqMap] = _LastMap()
        self._descriptions: dict[str, str] = {}
        self._warnings: tuple[str, ...] | None = None
        self.spool: MapSpool | None = None

    def __getitem__(self, key: str) -> LqMap:
        kept = self._last.get(key)
        if kept is not None:
            return kept
        quantity, ab = self._specs[key]
        computed = self._last.keep(key, lq_map(self._dose, quantity=quantity, alpha_beta_gy=ab, plan=self._plan))
        self._descriptions[key] = computed.description
        if self.spool is not None:
            self.spool.keep(key, computed.dose, lambda: lq_map_text(computed))
        return computed

    def slabs(self, key: str) -> Iterator[FloatArray]:
        """The values of the map ``key`` one z slab at a time, without the whole map
        (:func:`~dosimetry.radiobiology.maps.lq_map_slabs` with this set's arguments: the same numbers
        as ``self[key].dose.dose_gy[z]``; each slab a scratch buffer the next one overwrites)."""
        quantity, ab = self._specs[key]
        return lq_map_slabs(self._dose, quantity=quantity, alpha_beta_gy=ab, plan=self._plan)

    def warnings_of(self, key: str) -> tuple[str, ...]:
        """The map's warnings (as :attr:`LqMap.warnings`), computing no map (unless one overflows);
        the first key's description is kept too.

        Every map of the set carries the warnings of its source dose
        (:func:`~dosimetry.radiobiology.lq_maps`: the same dose and plan for every key), so after the
        first map only the key's alpha/beta is checked (the error its map would raise). Measured
        reason (issue 20, clinical 256 x 256 x 160 grid): collecting the warnings computed all four
        maps, 3 x 0.07 s of LQ arithmetic thrown away."""
        quantity, ab = self._specs[key]
        if self._warnings is None:
            # lq_map_preview: the map's warnings, description and errors without the map (measured reason there)
            preview = lq_map_preview(self._dose, quantity=quantity, alpha_beta_gy=ab, plan=self._plan)
            self._warnings = preview.warnings
            self._descriptions.setdefault(key, preview.description)
        else:
            check_alpha_beta(ab)
        return self._warnings

    def description(self, key: str) -> str:
        """The map's description (as :attr:`LqMap.description`), without computing it again."""
        if key not in self._descriptions:
            return self[key].description
        return self._descriptions[key]

    def __contains__(self, key: object) -> bool:
        # Mapping's default tries ``self[key]``: that computed the map (0.05 s on the clinical grid) to say yes
        return key in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def lq_slabs(lq: Mapping[str, LqMap], key: str) -> Iterator[FloatArray]:
    """The LQ map ``key`` of ``lq`` (a patient's :attr:`PatientMaps.lq`) one z slab at a time:
    :meth:`LqMapSet.slabs` (without the whole map), else the slabs of the map ``lq[key]``."""
    if isinstance(lq, LqMapSet):
        return lq.slabs(key)
    return iter(lq[key].dose.dose_gy)


class CumulativeMapSet(Mapping[str, CumulativeMap]):
    """The cumulative maps by key (``EQD2_2_cumulative``, ``BED2_cumulative``), each computed by
    :func:`~dosimetry.radiobiology.accumulate` when it is asked for, held by nobody between uses (the
    last one is returned again while something else still holds its grid, :class:`_LastMap`).

    Measured reason (issue 20, 256 x 256 x 160 grid): the two maps are 160 MB of the analysis's peak;
    one accumulation costs about 0.3 s. A recomputed map has the same values (the same call on the
    same doses, recovery assignment and interval). Not thread-safe, as :class:`LqMapSet`."""

    def __init__(self, current: CourseDose, prior: CourseDose, specs: dict[str, DoseQuantity], **options: Any) -> None:
        self._current, self._prior, self._specs, self._options = current, prior, dict(specs), options
        self._last: _LastMap[CumulativeMap] = _LastMap()
        self._warnings: tuple[str, ...] | None = None
        self._descriptions: dict[str, str] = {}
        self.spool: MapSpool | None = None

    def warnings_of(self, key: str) -> tuple[str, ...]:
        """The map's warnings (as :attr:`CumulativeMap.warnings`), computing no map in the usual case
        (one alpha/beta, bed-space, constant residual; see :func:`accumulate_preview`); its
        description is kept too.

        :func:`~dosimetry.radiobiology.accumulate` takes its warnings from the two courses' doses and
        the ``warnings`` option, never from the quantity (the only thing that differs between the
        keys), so the first map's warnings are every map's. Measured reason (issue 20, clinical grid):
        collecting the warnings computed both maps, one accumulation (about 0.2 s) thrown away."""
        if key not in self._specs:
            raise KeyError(key)
        if self._warnings is None:
            # accumulate_preview: the map's warnings, description and errors without the map (measured reason there)
            preview = accumulate_preview(self._current, self._prior, quantity=self._specs[key], **self._options)
            self._warnings = preview.warnings
            self._descriptions.setdefault(key, preview.description)
        return self._warnings

    def __getitem__(self, key: str) -> CumulativeMap:
        kept = self._last.get(key)
        if kept is not None:
            return kept
        computed = self._last.keep(key, accumulate(self._current, self._prior, quantity=self._specs[key], **self._options))
        self._descriptions[key] = computed.description
        if self.spool is not None:
            self.spool.keep(key, computed.dose, lambda: cumulative_map_text(computed))
        return computed

    def description(self, key: str) -> str:
        """The map's description (as :attr:`CumulativeMap.description`), without computing it again.
        Measured reason (issue 20, clinical grid): results() computed both maps again (two
        accumulations, about 0.35 s CPU) for their descriptions alone."""
        if key not in self._descriptions:
            return self[key].description
        return self._descriptions[key]

    def __contains__(self, key: object) -> bool:
        return key in self._specs  # without computing the map (Mapping's default does)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


@dataclass(frozen=True, eq=False)
class PatientMaps:
    """The loaded courses and every dose map on the current dose grid."""

    folders: CourseFolders
    current: Course
    structure_set: StructureSet
    prior: Course | None
    aligned: AlignedDose | None
    registration_source: str
    residual: float | None  # None when the recovery model is not one constant residual (see ``recovery``)
    alpha_beta_late_gy: float
    alpha_beta_tumour_gy: float
    lq: Mapping[str, LqMap]
    cumulative: Mapping[str, CumulativeMap]
    warnings: tuple[str, ...] = field(default=())
    recovery: RecoverySelection = field(default_factory=RecoverySelection)
    interval: CourseInterval | None = None
    organ_models: tuple[OrganModel, ...] = ()
    rigid_registration: RigidRegistration | None = None
    deformable_registration: DeformableRegistration | None = None
    computed_registration: PatientRegistration | None = None
    recovery_assignment: RecoveryAssignment | None = None  # the voxel models the cumulative maps used

    @property
    def dose_quantity(self) -> str:
        return dose_quantity_name(self.current.dose)

    @property
    def eqd2_late_cumulative_key(self) -> str:
        return lq_key(DoseQuantity.EQD2, self.alpha_beta_late_gy) + "_cumulative"

    @property
    def bed_late_cumulative_key(self) -> str:
        return lq_key(DoseQuantity.BED, self.alpha_beta_late_gy) + "_cumulative"

    def prior_lq_dose(
        self, quantity: DoseQuantity, alpha_beta_gy: float, tables: GridTables | None = None, *,
        made: Callable[[], DoseGrid] | None = None,
    ) -> DoseGrid:
        """The prior course's ``quantity`` map at ``alpha_beta_gy`` on the current grid (as aligned, its
        own fractionation); within a ``tables`` session the same grid object is returned to the next
        step asking for the same map (:meth:`GridTables.derived`). ArgumentError without a prior course.
        ``made``: gives the map made by :meth:`prior_lq_maker`'s function for the same arguments
        (for example in a background thread), called instead of making it here when it is needed."""
        compute = self.prior_lq_maker(quantity, alpha_beta_gy) if made is None else made
        if self.aligned is None or self.prior is None:  # (prior_lq_maker's error, also when made is given)
            self.prior_lq_maker(quantity, alpha_beta_gy)
        assert self.aligned is not None and self.prior is not None
        if tables is None:
            return compute()
        return tables.derived(("prior", quantity.value, float(alpha_beta_gy)), (self.aligned.dose, self.prior.plan), compute)

    def prior_lq_maker(self, quantity: DoseQuantity, alpha_beta_gy: float) -> Callable[[], DoseGrid]:
        """The function making the map of :meth:`prior_lq_dose` (no session); ArgumentError without a
        prior course."""
        if self.aligned is None or self.prior is None:
            raise ArgumentError("the prior course's LQ map needs a prior course (prior/ or --prior DIR)")
        aligned, plan = self.aligned.dose, self.prior.plan

        def compute() -> DoseGrid:
            return lq_map(aligned, quantity=quantity, alpha_beta_gy=alpha_beta_gy, plan=plan).dose

        return compute

    @contextmanager
    def spooling(self, folder: Path) -> Iterator[MapSpool]:
        """While open, the LQ and cumulative maps the analysis computes are encoded into ``folder``
        (:class:`MapSpool`) for the export; the folder is the caller's to remove."""
        spool = MapSpool(folder)
        sets = [m for m in (self.lq, self.cumulative) if isinstance(m, (LqMapSet, CumulativeMapSet))]
        for mapping in sets:
            mapping.spool = spool
        try:
            yield spool
        finally:
            for mapping in sets:
                mapping.spool = None

    def constraint_maps(self) -> dict[DoseBasis, Callable[[], DoseGrid]]:
        """Dose maps of the constraint checks' quantities (EQD2 with the late alpha/beta), computed on demand."""
        eqd2_key = lq_key(DoseQuantity.EQD2, self.alpha_beta_late_gy)
        maps: dict[DoseBasis, Callable[[], DoseGrid]] = {
            DoseBasis.DOSE_CURRENT: lambda: self.current.dose,
            DoseBasis.EQD2_CURRENT: lambda: self.lq[eqd2_key].dose,
            DoseBasis.EQD2_CUMULATIVE: lambda: self.cumulative[self.eqd2_late_cumulative_key].dose,
        }
        if self.aligned is not None and self.prior is not None:
            aligned, prior_plan, ab = self.aligned, self.prior.plan, self.alpha_beta_late_gy
            maps[DoseBasis.DOSE_PRIOR] = lambda: aligned.dose
            maps[DoseBasis.EQD2_PRIOR] = lambda: lq_map(
                aligned.dose, quantity=DoseQuantity.EQD2, alpha_beta_gy=ab, plan=prior_plan
            ).dose
        return maps


def _check_frames(structure_set: StructureSet, frame_uid: str) -> None:
    if structure_set.frame_of_reference_uid and structure_set.frame_of_reference_uid != frame_uid:
        raise ConsistencyError(
            f"RT Structure Set {structure_set.source_path} is in frame of reference {structure_set.frame_of_reference_uid}, "
            f"the current RT Dose in {frame_uid}; the ROIs must be contoured on the current planning CT"
        )


def build_patient_maps(
    folders: CourseFolders,
    *,
    registration_path: Path | None = None,
    assume_same_position: bool = False,
    residual: float = 0.3,
    alpha_beta_late_gy: float = 2.0,
    alpha_beta_tumour_gy: float = 9.0,
    recovery: RecoverySelection | None = None,
    interval_months: float | None = None,
    register: RegisterMode | None = None,
) -> PatientMaps:
    """Load, align and build the maps (see the module docstring). ``recovery`` (default: a constant
    ``residual``) and ``interval_months`` (default: from the DICOM dates) are described in
    :mod:`dosimetry.patient.recovery`. ``register``: compute a deformable registration of the prior CT
    to the current CT and apply it (:mod:`dosimetry.patient.deformable`)."""
    residual = check_residual(residual, argument="--residual")
    if recovery is None:
        recovery = RecoverySelection(
            ConstantResidual() if residual == DEFAULT_RESIDUAL
            else ConstantResidual(residual, citation="constant residual given by the user (--residual)")
        )
    for name, value in (("alpha_beta_late_gy", alpha_beta_late_gy), ("alpha_beta_tumour_gy", alpha_beta_tumour_gy)):
        if not value > 0:
            raise ArgumentError(f"{name} must be > 0 Gy, got {value}")
    if folders.prior is None and (registration_path is not None or assume_same_position):
        raise ArgumentError("--registration and --assume-same-position need a prior course (prior/ or --prior DIR)")
    if registration_path is not None and assume_same_position:
        raise ArgumentError("give either --registration or --assume-same-position, not both")
    if register is not None and (folders.prior is None or registration_path is not None or assume_same_position):
        raise ArgumentError("--register needs a prior course and excludes --registration and --assume-same-position")

    current = load_course(folders.current, argument="PATIENT_DIR")
    frame = current.dose.frame_of_reference_uid
    structure_set = current.structure_set(argument="PATIENT_DIR")
    _check_frames(structure_set, frame)
    warnings: list[str] = [*current.warnings, *structure_set.warnings]

    abs_gy = tuple(dict.fromkeys((alpha_beta_late_gy, alpha_beta_tumour_gy)))
    lq = LqMapSet(current.dose, current.plan, tuple((q, ab) for ab in abs_gy for q in (DoseQuantity.BED, DoseQuantity.EQD2)))
    for key in lq:  # every map's warnings now (the maps themselves are computed again when asked for)
        warnings.extend(lq.warnings_of(key))

    prior: Course | None = None
    aligned: AlignedDose | None = None
    rigid_registration: RigidRegistration | None = None
    deformable: DeformableRegistration | None = None
    computed: PatientRegistration | None = None
    assignment: RecoveryAssignment | None = None
    source = "no prior course"
    cumulative: Mapping[str, CumulativeMap] = {}
    if folders.prior is not None:
        prior = load_course(folders.prior, argument="--prior")
        prior_frame = prior.dose.frame_of_reference_uid
        registration, deformable = course_registrations(
            current, prior, registration_path=registration_path, search_folders=not assume_same_position
        )
        rigid_registration = registration
        source = "same frame of reference" if prior_frame == frame else "assumed same position (no registration)"
        if registration_path is not None:
            source = f"--registration {registration_path}"
        elif deformable is not None:
            source = f"deformable, found in course folder: {deformable.source_path}"
        elif registration is not None:
            source = f"found in course folder: {registration.source_path}"
        if register is not None:
            computed = compute_patient_registration(current, prior)
            if deformable is not None:
                warnings.append(f"--register: the deformable registration in {deformable.source_path} was not used (a new one was computed)")
            deformable = computed.deformable
            rigid_registration = rigid_registration or computed.rigid
            source = f"computed (--register {register.value}: rigid + demons, {computed.computed.seconds:.1f} s)"
        if deformable is not None:
            registration = None
        aligned = align_prior_dose(
            prior.dose, current.dose.grid, frame, registration=registration, assume_same_position=assume_same_position,
            deformable=deformable,
        )
        if deformable is None:
            # no step reads the prior course's own pixels again (registration_quality aligns them
            # again with the rigid registration only when a deformable one is applied)
            prior = replace(prior, dose=PriorDoseFromFiles.release(prior))
        warnings += [f"prior: {w}" for w in prior.warnings]
        interval = resolve_interval(current, prior, recovery, interval_months)
        rois = tuple({r.name: r for r in reversed(structure_set.rois)}.values())[::-1]
        assignment, organ_records, recovery_warnings = recovery_assignment(recovery, rois, current.dose.grid, interval)
        warnings.extend(recovery_warnings)
        cumulative_set = CumulativeMapSet(
            CourseDose(current.dose, current.plan),
            CourseDose(aligned.dose, prior.plan),
            {lq_key(q, alpha_beta_late_gy) + "_cumulative": q for q in (DoseQuantity.EQD2, DoseQuantity.BED)},
            alpha_beta_gy=alpha_beta_late_gy, residual=residual, warnings=aligned.warnings, recovery=assignment,
        )
        for key in cumulative_set:  # every map's warnings now (the maps themselves are computed again when asked for)
            warnings.extend(cumulative_set.warnings_of(key))
        cumulative = cumulative_set
    else:
        interval, organ_records = resolve_interval(current, None, recovery, interval_months), ()
        warnings.append("no prior course: current course only, no prior dose summed (the *_cumulative maps equal the current course's BED/EQD2)")
        n = current.plan.fractions_planned
        no_prior: dict[str, CumulativeMap] = {}
        cumulative = no_prior
        for quantity in (DoseQuantity.EQD2, DoseQuantity.BED):
            single = lq[lq_key(quantity, alpha_beta_late_gy)]
            no_prior[lq_key(quantity, alpha_beta_late_gy) + "_cumulative"] = CumulativeMap(
                quantity, alpha_beta_late_gy, residual, SummationMethod.BED_SPACE, n, 0, single.dose,
                warnings=single.warnings,
            )
    logger.info("maps built for %s (%s)", folders.current, folders.how)
    return PatientMaps(
        folders=folders,
        current=current,
        structure_set=structure_set,
        prior=prior,
        aligned=aligned,
        registration_source=source,
        residual=recovery.default.residual if isinstance(recovery.default, ConstantResidual) and not recovery.per_organ else None,
        alpha_beta_late_gy=alpha_beta_late_gy,
        alpha_beta_tumour_gy=alpha_beta_tumour_gy,
        lq=lq,
        cumulative=cumulative,
        warnings=tuple(dict.fromkeys(warnings)),
        recovery=recovery,
        interval=interval,
        organ_models=organ_records,
        rigid_registration=rigid_registration,
        deformable_registration=deformable,
        computed_registration=computed,
        recovery_assignment=assignment,
    )
