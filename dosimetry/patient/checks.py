"""The constraint checks of one patient: DVHs of the ROIs the checks need, organ extents, evaluation.

:func:`constraint_report` computes DVHs (DVH engine) of the ROIs the checks need on the maps of
:meth:`dosimetry.patient.maps.PatientMaps.constraint_maps`, the organ extents, then
:func:`dosimetry.constraints.evaluate.evaluate`. :func:`unique_rois` gives the ROIs every analysis
uses (the first of any repeated name).
"""

from __future__ import annotations

from dosimetry.constraints.evaluate import ConstraintReport, evaluate
from dosimetry.constraints.naming import NameMapper
from dosimetry.constraints.patient import needed_rois, organ_extents
from dosimetry.constraints.protocol import Protocol
from dosimetry.quantities import DoseBasis
from dosimetry.dose import DoseGrid
from dosimetry.dvh import Dvh, compute_dvh
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.errors import GeometryError
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import PatientMaps
from dosimetry.structures import Roi, StructureSet


def unique_rois(structure_set: StructureSet) -> tuple[tuple[Roi, ...], tuple[str, ...]]:
    """The ROIs of ``structure_set``, the first of any repeated name, and a warning per ROI left out."""
    rois: dict[str, Roi] = {}
    warnings: list[str] = []
    for roi in structure_set.rois:
        if roi.name in rois:
            warnings.append(f"ROI name {roi.name!r} appears twice in {structure_set.source_path}; ROI number {roi.number} ignored")
            continue
        rois[roi.name] = roi
    return tuple(rois.values()), tuple(warnings)


def constraint_report(
    maps: PatientMaps,
    rois: tuple[Roi, ...],
    *,
    mapper: NameMapper,
    protocol: Protocol | None,
    bin_width_gy: float,
    roi_failures: dict[str, str],
    known_dvhs: dict[DoseBasis, dict[str, Dvh]] | None = None,
    warnings: tuple[str, ...] = (),
    report_dvh_warnings: bool = False,
    tables: GridTables | None = None,
    end_cap: EndCapConvention = DEFAULT_END_CAP,
) -> ConstraintReport:
    """Emami/LKB and protocol checks of ``rois`` on the maps of :meth:`PatientMaps.constraint_maps`.

    Each ROI the checks need (:func:`dosimetry.constraints.patient.needed_rois`) gets a DVH of
    ``bin_width_gy`` bins by :func:`dosimetry.dvh.compute_dvh` under ``end_cap``, unless ``known_dvhs`` already
    holds it for that quantity. ROIs in ``roi_failures`` are skipped; ROIs that fail here (no
    closed contours, outside the dose grid) are added to it with the reason. A quantity without a
    map (the prior course's without a prior) is left out: its constraints are NOT_EVALUABLE.
    The report carries ``warnings`` and, with ``report_dvh_warnings``, the warnings of each DVH
    computed here (and the volume outside the dose grid). The sampling tables of the maps sampled
    here are released when done, or shared with the caller's ``tables`` session
    (:class:`~dosimetry.patient.grid_tables.GridTables`).
    """
    with (tables or GridTables()).session() as held:
        return _constraint_report(
            maps, rois, mapper=mapper, protocol=protocol, bin_width_gy=bin_width_gy, roi_failures=roi_failures,
            known=known_dvhs or {}, warnings=warnings, report_dvh_warnings=report_dvh_warnings, tables=held,
            end_cap=end_cap,
        )


def _constraint_report(
    maps: PatientMaps,
    rois: tuple[Roi, ...],
    *,
    mapper: NameMapper,
    protocol: Protocol | None,
    bin_width_gy: float,
    roi_failures: dict[str, str],
    known: dict[DoseBasis, dict[str, Dvh]],
    warnings: tuple[str, ...],
    report_dvh_warnings: bool,
    tables: GridTables,
    end_cap: EndCapConvention,
) -> ConstraintReport:
    available = maps.constraint_maps()
    names = [r.name for r in rois]
    by_name = {r.name: r for r in rois}
    notes: list[str] = list(warnings)
    dvhs: dict[DoseBasis, dict[str, Dvh]] = {}
    for quantity, roi_names in needed_rois(names, mapper, protocol).items():
        if quantity not in available:
            continue
        dose_map: DoseGrid | None = None
        per_roi: dict[str, Dvh] = {}
        for name in sorted(roi_names):
            if name in roi_failures:
                continue
            dvh = known.get(quantity, {}).get(name)
            if dvh is None:
                roi = by_name[name]
                if not roi.closed_planar_contours:
                    roi_failures[name] = f"ROI {name!r} has no closed planar contours"
                    continue
                dose_map = dose_map if dose_map is not None else tables.use(available[quantity]())
                try:
                    dvh = compute_dvh(dose_map, roi, bin_width_gy=bin_width_gy, end_cap=end_cap)
                except GeometryError as exc:
                    roi_failures[name] = f"ROI {name!r}: {exc}"
                    continue
                if report_dvh_warnings:
                    if dvh.volume_outside_dose_grid_cc > 0:
                        notes.append(
                            f"ROI {name!r}: {dvh.volume_outside_dose_grid_cc:.2f} cc of {dvh.volume_cc:.2f} cc lie outside "
                            "the dose grid; volume fractions refer to the part inside"
                        )
                    notes.extend(dvh.warnings)
            per_roi[name] = dvh
        dvhs[quantity] = per_roi
    return evaluate(
        dvhs,
        names,
        mapper=mapper,
        extents=organ_extents(by_name, mapper),
        roi_failures=roi_failures,
        protocol=protocol,
        alpha_beta_gy=maps.alpha_beta_late_gy,
        warnings=tuple(dict.fromkeys(notes)),
    )
