"""One patient, analysed: the object a physicist scripts (pylinac style: load, then ask for results).

Five lines in a notebook::

    import dosimetry
    plan = dosimetry.load_patient("sample_data/patient01")      # current/ (+ prior/) found by folder
    print(plan.check())                                          # Emami/LKB on cumulative EQD2
    results = plan.results()                                     # frozen, typed; .summary(), .to_dict()
    plan.report("report.html")                                   # the clinical report

:func:`load_patient` loads the courses, aligns the prior dose and builds the maps
(:mod:`dosimetry.patient.maps`); every later step is computed once, on first use, and cached:
:meth:`Patient.dvhs` (every ROI on every map its role gets), :meth:`Patient.indices`,
:meth:`Patient.check` (per protocol and mapping), :meth:`Patient.results`. :meth:`Patient.write`
writes everything ``dosimetry analyze`` writes; the CLI commands ``check`` and ``analyze`` and the
batch's ``full_analysis`` are built on this object, so they give the same numbers.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import logging
from dataclasses import FrozenInstanceError, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import dosimetry
from dosimetry.align.resample import AlignmentMethod
from dosimetry.constraints.evaluate import ConstraintReport
from dosimetry.constraints.naming import NameMapper, load_name_mapping
from dosimetry.constraints.protocol import Protocol, load_protocol
from dosimetry.dose import DoseGrid
from dosimetry.dvh import Dvh
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.dvh.sampling import release_sampling_plans
from dosimetry.errors import ArgumentError, DosimetryError, OutputError
from dosimetry.io.atomic_files import write_text
from dosimetry.patient.deformable import RegisterMode, parse_register, write_registration_outputs
from dosimetry.patient.registration_quality import DEFAULT_MARGIN_MM, RegistrationUncertainty, registration_uncertainty
from dosimetry.patient.checks import constraint_report, unique_rois
from dosimetry.patient.dvhs import DVH_BIN_WIDTH_GY, ROLE_SCOPE, PatientDvhs, compute_patient_dvhs, map_by_quantity, roles_for
from dosimetry.patient.folders import CourseFolders, check_output_outside, resolve_folders
from dosimetry.patient.indices import PatientIndices, TargetIndicesRun, indices_quantity, target_indices
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import CumulativeMapSet, LqMapSet, MapSpool, PatientMaps, build_patient_maps
from dosimetry.patient.planning_system import planning_system_rows
from dosimetry.patient.sensitivity import with_convention_spreads
from dosimetry.patient.provenance import input_records
from dosimetry.patient.recovery_record import RecoveryRecord
from dosimetry.patient.reirradiation_limits import reirradiation_limit_checks
from dosimetry.patient.records import (
    AlignmentRecord, ConstraintCheck, IndicesRecord, OutputRecord, QuantityRecord, RoiRecord, record_dict,
)
from dosimetry.patient.results import (
    SCHEMA_VERSION,
    AnalysisResults,
    ConstraintSummary,
    RunParameters,
    constraint_checks,
    course_record,
    dose_levels,
)
from dosimetry.patient.writers import DVH_CSV_STEP_GY, dvh_csv_text, export_maps, map_spool, metrics_csv_text
from dosimetry.radiobiology import DEFAULT_RESIDUAL, SummationMethod
from dosimetry.radiobiology.alpha_beta import roi_role
from dosimetry.radiobiology.recovery import RecoverySelection
from dosimetry.radiobiology.export import identity_from_dicom
from dosimetry.quantities import DoseBasis
from dosimetry.report.render_process import FigureRenderer, RenderProcesses, report_renderer

if TYPE_CHECKING:
    from dosimetry.report.overlay_scene import EarlyOverlays

logger = logging.getLogger(__name__)

#: The bundled synthetic patient (``dosimetry sample-data`` regenerates it byte for byte).
SAMPLE_PATIENT_DIR = Path(__file__).resolve().parents[2] / "sample_data" / "patient01"


_REGISTRATION_KIND = {
    AlignmentMethod.DEFORMABLE_REGISTRATION: "deformable",
    AlignmentMethod.REGISTRATION: "rigid",
    AlignmentMethod.SAME_FRAME: "same-frame",
    AlignmentMethod.TRANSFORM: "transform",
    AlignmentMethod.ASSUMED_SAME_POSITION: "assumed-same-position",
}


@dataclass(frozen=True)
class _CheckKey:
    protocol: str | None
    mapping: str | None
    # the files' contents (SHA-256) when given as files: an edited protocol/mapping file is a new key
    protocol_sha256: str | None = None
    mapping_sha256: str | None = None


def _file_sha256(value: object) -> str | None:
    """SHA-256 of the file ``value`` names (a path given as str/Path), else None (an object, or a
    file that cannot be read: its loader then raises the error naming it)."""
    if not isinstance(value, (str, Path)):
        return None
    try:
        return hashlib.sha256(Path(value).read_bytes()).hexdigest()
    except OSError:
        return None


def _check_key(protocol: Protocol | Path | str | None, mapping: NameMapper | Path | str | None) -> _CheckKey:
    """The cache key of check()/results()/registration_uncertainty(): the labels and the files' contents."""
    return _CheckKey(_protocol_label(protocol), _mapping_label(mapping), _file_sha256(protocol), _file_sha256(mapping))


def _protocol_label(protocol: Protocol | Path | str | None) -> str | None:
    """How results.json names the protocol: its file as given, or a Protocol object's source."""
    if protocol is None:
        return None
    return protocol.source if isinstance(protocol, Protocol) else str(protocol)


def _mapping_label(mapping: NameMapper | Path | str | None) -> str | None:
    if mapping is None:
        return None
    return "NameMapper given by the caller" if isinstance(mapping, NameMapper) else str(mapping)


def _protocol(protocol: Protocol | Path | str | None) -> Protocol | None:
    if protocol is None or isinstance(protocol, Protocol):
        return protocol
    return load_protocol(protocol)


def _mapping(mapping: NameMapper | Path | str | None) -> NameMapper:
    if mapping is None:
        return NameMapper()
    return mapping if isinstance(mapping, NameMapper) else load_name_mapping(mapping)


def _recovery_mismatch(protocol: Protocol | None, used: RecoverySelection) -> tuple[str, ...]:
    """A warning when the protocol file names recovery models other than those the maps were built with."""
    if protocol is None or protocol.recovery is None or protocol.recovery == used:
        return ()
    return (
        f"protocol {protocol.source} names recovery {protocol.recovery.describe()} but the maps were built with "
        f"{used.describe()} (--recovery options or load_patient(recovery=...) take precedence over the protocol file)",
    )


#: Patient attributes set at load time that the cached analyses depend on (not to be changed afterwards)
_LOAD_SETTINGS = frozenset({
    "patient_dir", "registration_path", "assume_same_position", "dvh_bin_width_gy", "uncertainty_margin_mm",
    "reirradiation_thresholds_gy", "end_cap",
})


class Patient:
    """A loaded patient (use :func:`load_patient`). Results are computed on first use and cached;
    the load-time settings (:data:`_LOAD_SETTINGS`) are fixed once set: the cached results use them."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _LOAD_SETTINGS and name in self.__dict__:
            raise FrozenInstanceError(
                f"Patient.{name} is fixed at load time (the cached DVHs, checks and results use it): "
                f"load the patient again with load_patient(..., {name}=...)"
            )
        super().__setattr__(name, value)

    def __init__(
        self,
        maps: PatientMaps,
        *,
        patient_dir: Path,
        registration_path: Path | None = None,
        assume_same_position: bool = False,
        dvh_bin_width_gy: float = DVH_BIN_WIDTH_GY,
        uncertainty_margin_mm: float | None = None,
        reirradiation_thresholds_gy: tuple[float, float] = (10.0, 10.0),
        end_cap: EndCapConvention | str = DEFAULT_END_CAP,
    ) -> None:
        # the convention of every DVH, index, check and result of this patient: fixed at load time
        # like the bin width, so every cache of this object (DVHs, checks, results) is under it
        self.end_cap = EndCapConvention.parse(end_cap)
        if uncertainty_margin_mm is not None and not (0 <= uncertainty_margin_mm <= 20):
            raise ArgumentError(f"uncertainty_margin_mm must be in [0, 20] mm, got {uncertainty_margin_mm}")
        self.uncertainty_margin_mm = uncertainty_margin_mm
        self._uncertainty: dict[_CheckKey, object] = {}
        if not (0 < dvh_bin_width_gy <= 1):
            raise ArgumentError(f"dvh_bin_width_gy must be in (0, 1] Gy, got {dvh_bin_width_gy}")
        self._maps = maps
        self.patient_dir = Path(patient_dir)
        self.registration_path = registration_path
        self.assume_same_position = assume_same_position
        self.dvh_bin_width_gy = dvh_bin_width_gy
        rois, duplicates = unique_rois(maps.structure_set)
        self._rois = rois
        self._duplicate_warnings = duplicates
        self._dvhs: PatientDvhs | None = None
        self._indices: PatientIndices | None = None
        self._checks: dict[_CheckKey, ConstraintReport] = {}
        self._recovery: RecoveryRecord | None = None
        self._limits: tuple[tuple[ConstraintCheck, ...], tuple[str, ...]] | None = None
        # results() per (protocol, mapping, CSV step) named by file: results() then write() computes once
        self._results: dict[tuple[_CheckKey, float], AnalysisResults] = {}
        # the DVH engine's sampling tables of one map at a time, shared by consecutive steps of results()
        self._tables = GridTables()
        self.reirradiation_thresholds_gy = (float(reirradiation_thresholds_gy[0]), float(reirradiation_thresholds_gy[1]))

    @classmethod
    def from_sample(cls) -> Patient:
        """The bundled sample patient (carbon re-irradiation with a prior photon course)."""
        if not SAMPLE_PATIENT_DIR.is_dir():
            raise ArgumentError(
                f"the sample patient is not at {SAMPLE_PATIENT_DIR} (installed without sample_data?): "
                "run `dosimetry sample-data --out DIR` and load_patient(DIR)"
            )
        return load_patient(SAMPLE_PATIENT_DIR)

    # ---------------------------------------------------------------- what was loaded
    @property
    def folders(self) -> CourseFolders:
        return self._maps.folders

    @property
    def patient_maps(self) -> PatientMaps:
        """The loaded courses, the alignment and every map (:class:`~dosimetry.patient.maps.PatientMaps`)."""
        return self._maps

    @property
    def has_prior(self) -> bool:
        return self._maps.prior is not None

    @property
    def warnings(self) -> tuple[str, ...]:
        """Loading, alignment and map warnings, and ROI names left out as duplicates."""
        return tuple(dict.fromkeys((*self._maps.warnings, *self._duplicate_warnings)))

    def maps(self) -> dict[str, DoseGrid]:
        """Every dose map on the current dose grid by quantity name: the planned dose (``rbe_weighted``
        or ``physical``), ``BED2``, ``EQD2_2``, ``BED9``, ``EQD2_9``, ``EQD2_2_cumulative``, ``BED2_cumulative``."""
        return map_by_quantity(self._maps)

    # ---------------------------------------------------------------- analyses
    def recovery(self) -> RecoveryRecord:
        """The recovery models, the interval between the courses and each organ's cumulative EQD2
        under the protocol's model and the alternatives (:mod:`dosimetry.patient.recovery_record`)."""
        if self._recovery is None:
            from dosimetry.patient.recovery_record import recovery_record

            prior_gy, current_gy = self.reirradiation_thresholds_gy
            self._recovery = recovery_record(
                self._maps, self.dvhs(), bin_width_gy=self.dvh_bin_width_gy, threshold_prior_gy=prior_gy, threshold_current_gy=current_gy,
                tables=self._tables,
            )
        return self._recovery

    def reirradiation_limits(self) -> tuple[tuple[ConstraintCheck, ...], tuple[str, ...]]:
        """The cumulative re-irradiation limits (``dosimetry/data/reirradiation_limits.json``) as
        constraint rows (``source`` "reirradiation") and their warnings; none without a prior course."""
        if self._limits is None:
            self._limits = reirradiation_limit_checks(
                self._maps, self._rois, bin_width_gy=self.dvh_bin_width_gy, dvhs=self.dvhs(), tables=self._tables,
                end_cap=self.end_cap,
            )
        return self._limits

    def dvhs(self) -> PatientDvhs:
        """DVHs and metric rows of every ROI on every map its role gets (:mod:`dosimetry.patient.dvhs`)."""
        if self._dvhs is None:
            self._dvhs = compute_patient_dvhs(
                self._maps, self._rois, bin_width_gy=self.dvh_bin_width_gy, tables=self._tables, end_cap=self.end_cap
            )
        return self._dvhs

    def indices(self) -> PatientIndices:
        """Plan-quality indices of the targets on the planned dose and on the tumour BED."""
        if self._indices is None:
            self._indices = target_indices(self._maps, self.dvhs(), tables=self._tables)
        return self._indices

    def check(
        self, protocol: Protocol | Path | str | None = None, mapping: NameMapper | Path | str | None = None
    ) -> ConstraintReport:
        """Emami TD5/5 + LKB NTCP on the cumulative EQD2 (late alpha/beta) and the ``protocol``'s
        constraints; ROI names mapped by TG-263 synonyms or ``mapping``. DVHs already computed by
        :meth:`dvhs` are reused; otherwise only the ROIs the checks need get one."""
        key = _check_key(protocol, mapping)
        if key not in self._checks or isinstance(protocol, Protocol) or isinstance(mapping, NameMapper):
            loaded_protocol, mapper = _protocol(protocol), _mapping(mapping)
            known = self._stage_dvhs(cumulative=True)
            failures = {} if self._dvhs is None else dict(self._dvhs.roi_failures)
            report = constraint_report(
                self._maps,
                self._rois,
                mapper=mapper,
                protocol=loaded_protocol,
                bin_width_gy=self.dvh_bin_width_gy,
                roi_failures=failures,
                known_dvhs=known,
                warnings=self.warnings + _recovery_mismatch(loaded_protocol, self._maps.recovery),
                report_dvh_warnings=True,
                tables=self._tables,
                end_cap=self.end_cap,
            )
            self._checks[key] = report
        return self._checks[key]

    def _stage_dvhs(self, *, cumulative: bool) -> dict[DoseBasis, dict[str, Dvh]]:
        """The DVH stage's curves on the current course's constraint maps (and the cumulative EQD2 with
        ``cumulative``) by dose basis and ROI name; none before the stage ran."""
        if self._dvhs is None:
            return {}
        names = {DoseBasis.EQD2_CURRENT: f"EQD2_{self._maps.alpha_beta_late_gy:g}", DoseBasis.DOSE_CURRENT: self._dvhs.planned_dose_name}
        if cumulative:
            names = {DoseBasis.EQD2_CUMULATIVE: self._maps.eqd2_late_cumulative_key, **names}
        return {basis: {roi: dvh for (roi, q), dvh in self._dvhs.curves.items() if q == name} for basis, name in names.items()}

    def registration_uncertainty(
        self, protocol: Protocol | Path | str | None = None, mapping: NameMapper | Path | str | None = None
    ) -> RegistrationUncertainty | None:
        """Rigid vs deformable cumulative checks, their spread under a prior-dose shift and the mapping
        quality (:mod:`dosimetry.patient.registration_quality`): computed with a prior course when a
        deformable registration is applied or ``uncertainty_margin_mm`` was given; else None."""
        if self._maps.prior is None or (self._maps.deformable_registration is None and self.uncertainty_margin_mm is None):
            return None
        key = _check_key(protocol, mapping)
        # a Protocol or NameMapper object is evaluated at every call (as check() does): two objects
        # with the same label are not the same protocol/mapping
        if key not in self._uncertainty or isinstance(protocol, Protocol) or isinstance(mapping, NameMapper):
            margin = DEFAULT_MARGIN_MM if self.uncertainty_margin_mm is None else self.uncertainty_margin_mm
            self._uncertainty[key] = registration_uncertainty(
                self._maps, self._rois, constraint_checks(self.check(protocol, mapping)), mapper=_mapping(mapping),
                protocol=_protocol(protocol), bin_width_gy=self.dvh_bin_width_gy, margin_mm=margin, end_cap=self.end_cap,
                current_dvhs=self._stage_dvhs(cumulative=False),
            )
        return self._uncertainty[key]  # type: ignore[return-value]

    def results(
        self,
        protocol: Protocol | Path | str | None = None,
        mapping: NameMapper | Path | str | None = None,
        *,
        dvh_csv_step_gy: float = DVH_CSV_STEP_GY,
    ) -> AnalysisResults:
        """Everything: courses, alignment, dose level, DVH metrics, indices, constraint checks,
        input provenance and every warning (outputs empty until :meth:`write`). Computed once per
        protocol, mapping and CSV step (given as files or None; a Protocol or NameMapper object is
        evaluated at every call, as :meth:`check` does; a file is keyed by its contents too): a later call returns the same object."""
        cacheable = not isinstance(protocol, Protocol) and not isinstance(mapping, NameMapper)
        key = (_check_key(protocol, mapping), float(dvh_csv_step_gy))
        if cacheable and key in self._results:
            return self._results[key]
        results = self._compute_results(protocol, mapping, dvh_csv_step_gy)
        if cacheable:
            self._results[key] = results
        return results

    def _compute_results(
        self, protocol: Protocol | Path | str | None, mapping: NameMapper | Path | str | None, dvh_csv_step_gy: float
    ) -> AnalysisResults:
        maps = self._maps
        # in the order that lets consecutive steps share a map's sampling tables (GridTables): the
        # indices run inside the DVH stage (planned dose, tumour BED); the DVHs end on the cumulative
        # EQD2, the spreads start on it; the re-irradiation type ends on the prior course's EQD2, the
        # limits start on it
        with self._tables.session():
            if self._dvhs is None and self._indices is None:
                # the indices on the planned dose and the tumour BED while the DVH stage holds those maps' tables
                run = TargetIndicesRun(self._maps, self._rois, {r.name: roi_role(r) for r in self._rois}, end_cap=self.end_cap)
                self._dvhs = compute_patient_dvhs(
                    self._maps, self._rois, bin_width_gy=self.dvh_bin_width_gy, tables=self._tables, on_map=run.on_map,
                    end_cap=self.end_cap, keep_samples=run.keep_samples,
                )
                self._indices = run.finish(self._tables)
            dvhs = self.dvhs()
            report = self.check(protocol, mapping)
            constraint_rows, sensitivity_warnings = with_convention_spreads(
                maps, self._rois, constraint_checks(report), bin_width_gy=self.dvh_bin_width_gy, tables=self._tables,
                dvhs=dvhs,
            )
            indices = self.indices()
            recovery = self.recovery()
            limit_rows, limit_warnings = self.reirradiation_limits()
        planning_system, planning_system_warnings = planning_system_rows(maps, self._rois, end_cap=self.end_cap)
        warnings = [
            *self.warnings, *dvhs.warnings, *indices.warnings, *report.warnings, *recovery.warnings, *limit_warnings,
            *planning_system_warnings, *sensitivity_warnings,
        ]
        courses = [course_record("current", maps.current)]
        alignment = None
        if maps.prior is not None and maps.aligned is not None:
            courses.append(course_record("prior", maps.prior))
            alignment = AlignmentRecord(
                method=maps.aligned.method.value,
                transform=maps.aligned.transform_description,
                registration_source=maps.registration_source,
                uncovered_volume_cc=float(maps.aligned.uncovered_volume_cc),
                registration_kind=_REGISTRATION_KIND[maps.aligned.method],
                jacobian_determinant=None if maps.aligned.jacobian is None else maps.aligned.jacobian.to_dict(),
            )
        descriptions = {dvhs.planned_dose_name: f"{dvhs.planned_dose_name}: the current plan's dose ({maps.current.dose.dose_type.value})"}
        lq = maps.lq
        descriptions.update({k: lq.description(k) if isinstance(lq, LqMapSet) else lq[k].description for k in lq})
        cumulative = maps.cumulative  # their descriptions without computing the maps again
        descriptions.update({k: cumulative.description(k) if isinstance(cumulative, CumulativeMapSet) else cumulative[k].description
                             for k in cumulative})
        present = {q for (_, q) in dvhs.curves}
        quantities = tuple(
            QuantityRecord(name=q, description=descriptions[q], rois=ROLE_SCOPE[roles_for(q, dvhs.planned_dose_name)])
            for q in descriptions
            if q in present
        )
        rois = []
        for roi in dvhs.rois:
            dvh = dvhs.curves.get((roi.name, dvhs.planned_dose_name))
            rois.append(
                RoiRecord(
                    name=roi.name, number=int(roi.number), interpreted_type=roi.interpreted_type,
                    role=dvhs.roles[roi.name].value,
                    volume_cc=float(dvh.volume_cc) if dvh else None,
                    volume_in_dose_grid_cc=float(dvh.volume_in_dose_grid_cc) if dvh else None,
                )
            )
        index_records = tuple(
            IndicesRecord(
                target=r.target_name, quantity=indices_quantity(maps, r),
                indices=tuple((k, v) for k, v in r.to_dict().items() if k != "target"),
            )
            for r in indices.results
        )
        identity = identity_from_dicom(maps.current.dose_paths[0])
        uncertainty = self.registration_uncertainty(protocol, mapping)
        return AnalysisResults(
            software_version=dosimetry.__version__,
            generated_utc=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            parameters=RunParameters(
                residual=maps.residual,
                alpha_beta_late_gy=maps.alpha_beta_late_gy,
                alpha_beta_tumour_gy=maps.alpha_beta_tumour_gy,
                summation_method=SummationMethod.BED_SPACE.value,
                dvh_bin_width_gy=self.dvh_bin_width_gy,
                dvh_csv_step_gy=dvh_csv_step_gy,
                protocol=_protocol_label(protocol),
                mapping=_mapping_label(mapping),
                registration=None if self.registration_path is None else str(self.registration_path),
                assume_same_position=bool(self.assume_same_position),
                folders=maps.folders.how,
                register=None if maps.computed_registration is None else "deformable",
                registration_margin_mm=None if uncertainty is None else uncertainty.margin_mm,
                end_cap=dvhs.end_cap,
            ),
            patient_id=identity.patient_id,
            patient_name=identity.patient_name,
            courses=tuple(courses),
            alignment=alignment,
            dose_levels=dose_levels(maps),
            quantities=quantities,
            rois=tuple(rois),
            metrics=dvhs.metrics,
            indices=index_records,
            constraints=ConstraintSummary(
                any_fail=report.any_fail or any(r.status == "FAIL" for r in limit_rows), quantity=report.quantity.value,
                alpha_beta_gy=report.alpha_beta_gy, rows=constraint_rows + limit_rows,
            ),
            inputs=input_records(
                maps.folders, self.patient_dir,
                (("registration", self.registration_path),
                 ("protocol", Path(protocol) if isinstance(protocol, (str, Path)) else None),
                 ("mapping", Path(mapping) if isinstance(mapping, (str, Path)) else None)),
            ),
            warnings=tuple(dict.fromkeys(warnings)),
            registration_uncertainty=uncertainty,
            recovery=recovery,
            planning_system=planning_system,
        )

    # ---------------------------------------------------------------- outputs
    def report(
        self,
        path: Path | str,
        protocol: Protocol | Path | str | None = None,
        mapping: NameMapper | Path | str | None = None,
        *,
        results: AnalysisResults | None = None,
    ) -> Path:
        """Write the clinical report (one self-contained HTML page) to ``path`` (its folder is created
        if needed); returns ``path``."""
        from dosimetry.report.builder import build_report

        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the folder of {path}: {exc}") from exc
        results = results if results is not None else self.results(protocol, mapping)
        page = build_report(results.to_dict(), self._maps, self.dvhs())
        write_text(path, page.html)
        return path

    def write(
        self,
        out_dir: Path | str,
        protocol: Protocol | Path | str | None = None,
        mapping: NameMapper | Path | str | None = None,
        *,
        dvh_csv_step_gy: float = DVH_CSV_STEP_GY,
        report_workers: int | None = None,
    ) -> AnalysisResults:
        """Write everything ``dosimetry analyze`` writes into ``out_dir`` (created if needed):
        the RT Dose maps, ``dvh.csv``, ``metrics.csv``, ``report.html`` and ``results.json``
        (validated against :mod:`dosimetry.patient.schema`). Returns the results as written.
        ``report_workers``: processes drawing the report's figures, started now so that they import
        matplotlib during the analysis (None: 2 with a second core, else 0; 0: drawn in this process,
        as a batch's workers should; :mod:`dosimetry.report.render_process`). Same outputs either way."""
        with report_renderer(report_workers) as renderer:
            return self._write(out_dir, protocol, mapping, dvh_csv_step_gy=dvh_csv_step_gy, renderer=renderer)

    def _early_overlays(self, renderer: FigureRenderer | None) -> EarlyOverlays | None:
        """The report's CT scene built, and its three centre planes drawn, in the render processes
        while this process runs the analysis (:mod:`dosimetry.report.overlay_scene`: measured reason
        there); None without render processes, on a busy machine (:func:`~dosimetry.report.overlay_scene.spare_core`),
        or when the overlays will not use it (no prescription, no usable CT: the report's overlay
        section then says why, as before)."""
        if not isinstance(renderer, RenderProcesses):
            return None
        from dosimetry.report.figure_sections import drawable_rois, overlay_ct_series, overlay_reference
        from dosimetry.report.overlay_scene import SceneInputs, spare_core, start_early_overlays

        if not spare_core():
            logger.debug("report overlays: the machine is busy, the CT scene is built after the analysis")
            return None
        course = course_record("current", self._maps.current)  # as results.json's courses[0]
        reference_gy, unit = overlay_reference({"prescription_dose_gy": course.prescription_dose_gy, "dose_type": course.dose_type})
        if reference_gy is None:
            return None
        try:
            series = overlay_ct_series(self._maps)
        except DosimetryError:
            return None
        inputs = SceneInputs(series, self._maps.current.dose, drawable_rois(None, self._rois), self.end_cap)
        return start_early_overlays(renderer, inputs, float(reference_gy), unit)

    def _write(
        self,
        out_dir: Path | str,
        protocol: Protocol | Path | str | None,
        mapping: NameMapper | Path | str | None,
        *,
        dvh_csv_step_gy: float,
        renderer: FigureRenderer | None,
    ) -> AnalysisResults:
        from dosimetry.patient.schema import validate
        from dosimetry.report.builder import build_report

        if not (0 < dvh_csv_step_gy <= 10):
            raise ArgumentError(f"dvh_csv_step_gy must be in (0, 10] Gy, got {dvh_csv_step_gy}")
        out_dir = Path(out_dir)
        check_output_outside(self.folders, out_dir)
        early = self._early_overlays(renderer)
        # the maps the analysis computes are written without computing them again. None is held for
        # the report's overlays: measured (clinical case, every process of the run
        # summed, benchmarks/analyze_side_by_side.py and a psutil sampler) holding the cumulative EQD2
        # raised the main process's peak from 730 to 811 MiB in the re-irradiation steps after the DVH
        # stage and the run's from 1132 to 1212 MiB, over issue 20's 1.2 GB, to save the report about
        # 0.35 s of CPU; the report computes the cumulative EQD2 again, and the current EQD2 slab by
        # slab (figure_sections.overlap_voxel).
        with map_spool(self._maps, out_dir) as spool:
            results = self.results(protocol, mapping, dvh_csv_step_gy=dvh_csv_step_gy)
            # the DVH engine's sampling plans (31 MiB on the clinical case) are not needed by the
            # report; an ROI sampled again makes its plan again (the same numbers)
            release_sampling_plans(self._maps.current.dose.grid)
            spool.seal()  # what the report computes is not encoded (the export computes what the analysis did not)
            analysed = results

            @functools.cache
            def files() -> tuple[OutputRecord, ...]:
                return self._write_files(out_dir, analysed, spool, dvh_csv_step_gy)

            # The files are written when the report asks for their list (its provenance section, after
            # its figures are sent to the render processes, which draw them meanwhile). Measured reason:
            # benchmarks/report_tail.py (issue 20, clinical case): the map export (0.4-0.6 s) ran
            # before the report sent its first figure.
            document = results.to_dict()
            del document["outputs"]
            page = build_report(document, self._maps, self.dvhs(), renderer=renderer,
                                early_overlays=early, outputs=lambda: [record_dict(o) for o in files()])
            results = replace(results, outputs=files())  # written by now, unless no section asked
        results = replace(results, warnings=tuple(dict.fromkeys((*results.warnings, *page.warnings))))
        document = results.to_dict()
        validate(document)
        write_text(out_dir / "report.html", page.html)
        write_text(out_dir / "results.json", json.dumps(document, indent=2, sort_keys=False) + "\n")
        logger.info("analysis of %s written to %s", self.patient_dir, out_dir)
        return results

    def _write_files(
        self, out_dir: Path, results: AnalysisResults, spool: MapSpool, dvh_csv_step_gy: float
    ) -> tuple[OutputRecord, ...]:
        """Write the maps, the registration outputs, ``dvh.csv`` and ``metrics.csv``; returns the
        records of every output file (``report.html`` and ``results.json`` listed, not yet written)."""
        outputs = list(export_maps(self._maps, out_dir, results.warnings, spool))
        if self._maps.computed_registration is not None:
            outputs += write_registration_outputs(self._maps.computed_registration, out_dir, self._maps.current.dose_paths[0])
        write_text(out_dir / "dvh.csv", dvh_csv_text(self.dvhs(), dvh_csv_step_gy))
        write_text(
            out_dir / "metrics.csv",
            metrics_csv_text(results.metrics, results.warnings, [(r.number, r.name) for r in results.rois]),
        )
        outputs += [
            OutputRecord("dvh.csv", "csv", "cumulative DVHs, long format"),
            OutputRecord("metrics.csv", "csv", "DVH metrics per ROI and quantity"),
            # The report needs the final document (warnings, provenance); it is listed before it is written.
            OutputRecord("report.html", "html", "clinical report"),
            OutputRecord("results.json", "json", f"results, schema {SCHEMA_VERSION}"),
        ]
        return tuple(outputs)


def load_patient(
    folder: Path | str,
    *,
    prior: Path | str | None = None,
    registration: Path | str | None = None,
    assume_same_position: bool = False,
    residual: float | None = None,
    alpha_beta_late_gy: float = 2.0,
    alpha_beta_tumour_gy: float = 9.0,
    dvh_bin_width_gy: float = DVH_BIN_WIDTH_GY,
    register: RegisterMode | str | None = None,
    uncertainty_margin_mm: float | None = None,
    recovery: RecoverySelection | None = None,
    interval_months: float | None = None,
    reirradiation_thresholds_gy: tuple[float, float] = (10.0, 10.0),
    end_cap: EndCapConvention | str = DEFAULT_END_CAP,
) -> Patient:
    """Load a patient: ``folder`` with ``current/`` (and ``prior/``) sub-folders, or a current course
    folder with ``prior=`` naming the prior course.

    ``registration``: a DICOM Spatial Registration linking the prior frame to the current one (else
    one found in a course folder, or the same frame of reference); ``assume_same_position``: the
    frames differ and there is no registration (the results carry a warning). ``residual``: the
    fraction of the prior course still counted for organs at risk (default 0.3, the protocol's; only
    with a prior course). Alpha/beta ratios in Gy: late-responding tissue (organs at risk, 2) and
    tumour (9). ``recovery``: the recovery models (default, per organ, alternatives for the report;
    :class:`~dosimetry.radiobiology.recovery.RecoverySelection`) instead of ``residual``;
    ``interval_months``: the interval between the courses (default: from the DICOM dates,
    :mod:`dosimetry.radiobiology.interval`); ``reirradiation_thresholds_gy``: the meaningful dose
    (EQD2 at the late alpha/beta) of the prior and the current course for the ESTRO-EORTC
    re-irradiation type (:mod:`dosimetry.patient.reirradiation_type`). Raises a :class:`~dosimetry.errors.DosimetryError`
    naming the file or argument when the patient cannot be loaded. ``register="deformable"``: compute a
    deformable registration of the prior CT to the current CT (rigid + demons,
    :mod:`dosimetry.align.register`) and apply it. ``uncertainty_margin_mm``: shift of the prior dose for
    the registration uncertainty (default 2 mm when a deformable registration is applied; giving it
    computes the uncertainty for a rigid one too). ``end_cap``: how every ROI's solid is closed
    between and beyond its contour planes (:class:`~dosimetry.dvh.endcaps.EndCapConvention`; default
    shape, the README's "Between and beyond the contour planes" says why), used by every DVH, index,
    check and result of the patient and recorded as ``parameters.end_cap`` in results.json.
    """
    folders = resolve_folders(Path(folder), None if prior is None else Path(prior))
    if folders.prior is None and (
        registration is not None or assume_same_position or residual is not None or interval_months is not None
        or (recovery is not None and recovery != RecoverySelection())
    ):
        raise ArgumentError(
            "--registration, --assume-same-position, --recovery, --interval-months and --residual need a prior course "
            "(prior/ sub-folder of PATIENT_DIR or --prior DIR)"
        )
    if residual is not None and recovery is not None:
        raise ArgumentError("give either --residual or --recovery (constant:R is the same as --residual R), not both")
    registration_path = None if registration is None else Path(registration)
    maps = build_patient_maps(
        folders,
        registration_path=registration_path,
        assume_same_position=assume_same_position,
        residual=DEFAULT_RESIDUAL if residual is None else residual,
        alpha_beta_late_gy=alpha_beta_late_gy,
        alpha_beta_tumour_gy=alpha_beta_tumour_gy,
        register=parse_register(register),
        recovery=recovery,
        interval_months=interval_months,
    )
    return Patient(
        maps,
        patient_dir=Path(folder),
        registration_path=registration_path,
        assume_same_position=assume_same_position,
        dvh_bin_width_gy=dvh_bin_width_gy,
        uncertainty_margin_mm=uncertainty_margin_mm,
        reirradiation_thresholds_gy=reirradiation_thresholds_gy,
        end_cap=end_cap,
    )
