"""Plan-quality indices of a patient's targets (GTV/CTV/PTV) on the planned dose and on the tumour BED.

The protocol's coverage rules (V95% >= 95 % for the CTV, V90% >= 90 % for the PTV on the planned
dose) come with the indices (:func:`dosimetry.indices.evaluate_targets`). An index that cannot be
computed is reported as undefined with its reason; a target set that cannot be evaluated at all is a
warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from dosimetry.dose import DoseGrid, DoseType
from dosimetry.dvh import DoseSamples
from dosimetry.errors import DosimetryError
from dosimetry.indices import DoseQuantity, ReferenceLevel, TargetIndices, evaluate_targets, find_body
from dosimetry.patient.dvhs import PatientDvhs, prescription_gy
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import PatientMaps
from dosimetry.radiobiology.alpha_beta import RoiRole
from dosimetry.structures import Roi


@dataclass(frozen=True)
class PatientIndices:
    """The indices of every target and the warnings met (no target, no prescription, no body ROI)."""

    results: tuple[TargetIndices, ...]
    warnings: tuple[str, ...]


def indices_quantity(maps: PatientMaps, result: TargetIndices) -> str:
    """The quantity name of an indices result (the planned dose's name, or ``BED9``)."""
    if result.reference.quantity is DoseQuantity.PHYSICAL:
        return maps.dose_quantity
    return f"{result.reference.quantity}{result.reference.alpha_beta_gy:g}"


def target_indices(maps: PatientMaps, dvhs: PatientDvhs, tables: GridTables | None = None) -> PatientIndices:
    """Indices of the targets that got a DVH, on the planned dose and on ``BED<tumour a/b>``.
    ``tables``: the facade's :class:`GridTables`; without it the sampling tables are released here."""
    run = TargetIndicesRun(maps, dvhs.rois, dvhs.roles, dvhs.roi_failures, end_cap=dvhs.end_cap)
    with (tables or GridTables()).session() as held:
        return run.finish(held)


class TargetIndicesRun:
    """:func:`target_indices` one map at a time: :meth:`on_map` computes the indices on a map when it
    is one of theirs (the planned dose, ``BED<tumour a/b>``), so the DVH stage can call it while it
    holds that map's sampling tables (:func:`~dosimetry.patient.dvhs.compute_patient_dvhs`
    ``on_map``: two table builds fewer); :meth:`finish` computes any map not seen yet and returns the
    indices in the order :func:`target_indices` gives them. The targets are those without a DVH
    failure (``roi_failures``, read when the first map is evaluated: the DVH stage samples every ROI
    on the planned dose first, so its failures are final by then)."""

    def __init__(
        self, maps: PatientMaps, rois: tuple[Roi, ...], roles: Mapping[str, RoiRole], roi_failures: Mapping[str, str] | None = None,
        *, end_cap: EndCapConvention = DEFAULT_END_CAP,
    ) -> None:
        self._end_cap = EndCapConvention.parse(end_cap)
        self._maps, self._rois, self._roles = maps, rois, roles
        self._failures: Mapping[str, str] = roi_failures or {}
        self._targets: list[Roi] | None = None
        self._body: Roi | None = None
        self._body_of_structures: tuple[Roi | None] | None = None  # find_body's answer, for keep_samples
        self._warnings: list[str] = []
        self._results: dict[str, list[TargetIndices]] = {}
        self._done: PatientIndices | None = None
        prescription, _ = prescription_gy(maps)  # its warning is already in the DVH warnings
        self._references: dict[str, ReferenceLevel] = {}
        if prescription is None:
            return
        n = maps.current.plan.fractions_planned
        rbe_weighted = maps.current.dose.dose_type is DoseType.EFFECTIVE
        self._references[maps.dose_quantity] = ReferenceLevel.physical(prescription, rbe_weighted=rbe_weighted)
        bed_key = f"BED{maps.alpha_beta_tumour_gy:g}"
        if bed_key in maps.lq:
            bed_reference = ReferenceLevel.lq(DoseQuantity.BED, prescription, n, maps.alpha_beta_tumour_gy)
            self._references[bed_key] = replace(bed_reference, rbe_weighted=rbe_weighted)

    def _ready(self) -> bool:
        """False when there is nothing to compute (no target, no prescription): :attr:`_done` says why."""
        if self._done is not None:
            return False
        if self._targets is None:
            self._targets = [r for r in self._rois if self._roles[r.name] is RoiRole.TARGET and r.name not in self._failures]
            if not self._targets:
                self._done = PatientIndices((), ("no target ROI (GTV/CTV/PTV): no plan-quality indices",))
                return False
            if not self._references:
                self._done = PatientIndices((), ())
                return False
            try:
                self._body = find_body(self._maps.structure_set)
            except DosimetryError as exc:
                self._warnings.append(f"indices without a body ROI: {exc}")
        return True

    def keep_samples(self, quantity: str, roi: Roi) -> bool:
        """Whether :meth:`on_map` on ``quantity`` wants the DVH stage's dose samples of ``roi``
        (a target or the body ROI, on a map of a reference level not evaluated yet): given, they are
        not sampled again. Measured reason (issue 20, clinical case): sampling the body outline and
        the targets again on the planned dose cost about 0.3 s CPU of results()."""
        if quantity not in self._references or quantity in self._results:
            return False
        if self._roles.get(roi.name) is RoiRole.TARGET and any(r is roi for r in self._rois):
            return True
        if self._body_of_structures is None:
            try:
                self._body_of_structures = (find_body(self._maps.structure_set),)
            except DosimetryError:
                self._body_of_structures = (None,)  # _ready() reports it
        return roi is self._body_of_structures[0]

    def on_map(
        self, quantity: str, dose: DoseGrid, roi_failures: Mapping[str, str] | None = None,
        samples: Mapping[str, DoseSamples] | None = None,
    ) -> None:
        """The indices on ``dose`` if it is the map ``quantity`` of a reference level not evaluated yet
        (``roi_failures``: the DVH failures so far, ``samples``: the dose samples :meth:`keep_samples`
        asked for, by ROI name, when called by the DVH stage)."""
        if roi_failures is not None:
            self._failures = roi_failures
        reference = self._references.get(quantity)
        if reference is None or quantity in self._results or not self._ready():
            return
        assert self._targets is not None
        # only samples of the very ROI objects evaluated here (the DVH stage's ROIs: a body ROI
        # left out there as a repeated name is another ROI of that name)
        body = self._body if any(r is self._body for r in self._rois) else None
        evaluated = [*self._targets, *(() if body is None else (body,))]
        known = {r.name: samples[r.name] for r in evaluated if samples is not None and r.name in samples}
        try:
            self._results[quantity] = list(evaluate_targets(
                dose, self._targets, reference, body=self._body, end_cap=self._end_cap, known_samples=known,
            ))
        except DosimetryError as exc:
            self._results[quantity] = []
            self._warnings.append(f"indices on {reference.label} not computed: {exc}")

    def finish(self, tables: GridTables) -> PatientIndices:
        """Every reference level's indices (the maps not seen by :meth:`on_map` computed now)."""
        maps = self._maps

        def get(quantity: str) -> DoseGrid:
            return maps.current.dose if quantity == maps.dose_quantity else maps.lq[quantity].dose

        if self._ready():
            for quantity in self._references:
                if quantity not in self._results:
                    tables.release()  # before the next map is made (a lower peak)
                    self.on_map(quantity, tables.use(get(quantity)))
        if self._done is not None:
            return self._done
        results = [r for quantity in self._references for r in self._results.get(quantity, [])]
        warnings = list(self._warnings)
        for result in results:
            warnings.extend(f"indices {result.target_name} ({result.reference.label}): {w}" for w in result.warnings)
        return PatientIndices(tuple(results), tuple(warnings))
