"""The DVHs and DVH metrics of one patient on every dose map, by ROI role.

Quantities (the ``quantity`` of a metric row) and which ROIs get them (:func:`roles_for`):

* ``rbe_weighted`` (EFFECTIVE dose, Gy(RBE)) or ``physical`` (PHYSICAL dose, Gy): the current plan's
  dose; every ROI;
* ``BED2``, ``EQD2_2``, ``BED9``, ``EQD2_9``: current course only, voxel LQ with d = D/n; targets
  and organs (not the External/support ROIs);
* ``EQD2_2_cumulative``, ``BED2_cumulative``: current + r x prior (BED space); organs at risk only
  (target metrics use the current course alone, as the protocol does).

Each ROI's geometry is rasterised once (under ``end_cap``, default shape: :mod:`dosimetry.dvh.endcaps`) and sampled on every map it gets; the
maps are made ahead in a background thread while the geometries are computed and the previous
map is sampled (:class:`_MapsAhead`: at most two made maps exist at once, the sampled one and the next). The
DVHs have bins of ``bin_width_gy``. A metric the DVH cannot give (D0.03cc of an ROI smaller than
0.03 cc) is left out with a warning; an ROI without closed contours or outside the dose grid is
left out with its reason in ``roi_failures``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from dosimetry.dose import DoseGrid
from dosimetry.dvh import DoseSamples, Dvh, evaluate_metric, roi_dose_samples
from dosimetry.dvh.curve import dvh_from_samples
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.errors import ArgumentError, GeometryError, MetricError
from dosimetry.patient.background import background_maps_allowed
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import PatientMaps
from dosimetry.patient.records import MetricRow
from dosimetry.radiobiology import CumulativeMap, LqMap
from dosimetry.radiobiology.alpha_beta import RoiRole, roi_role
from dosimetry.structures import Roi

#: Metrics of every ROI on every quantity it gets (Gy of the quantity).
METRICS: tuple[str, ...] = ("Mean[Gy]", "Min[Gy]", "Max[Gy]", "D98%[Gy]", "D95%[Gy]", "D50%[Gy]", "D2%[Gy]", "D0.03cc[Gy]")
#: Extra metrics of targets on the planned dose: volume (%) at 100/95/90 % of the prescription.
TARGET_COVERAGE_METRICS: tuple[str, ...] = ("V100%[%]", "V95%[%]", "V90%[%]")
#: ``on_map(quantity, dose, roi_failures, samples)`` of :func:`compute_patient_dvhs`.
OnMap = Callable[[str, DoseGrid, Mapping[str, str], Mapping[str, DoseSamples]], None]
#: Default DVH bin width (Gy).
DVH_BIN_WIDTH_GY = 0.01

_ALL_ROLES = frozenset(RoiRole)
_TARGETS_AND_ORGANS = frozenset({RoiRole.TARGET, RoiRole.ORGAN_AT_RISK})
_ORGANS = frozenset({RoiRole.ORGAN_AT_RISK})
#: results.json ``quantities[].rois`` of each role set.
ROLE_SCOPE = {_ALL_ROLES: "all", _TARGETS_AND_ORGANS: "targets_and_organs", _ORGANS: "organs"}


def roles_for(quantity: str, planned_dose_name: str) -> frozenset[RoiRole]:
    """The ROI roles that get the map ``quantity`` (``planned_dose_name``, "BED2", ..., "EQD2_2_cumulative")."""
    if quantity == planned_dose_name:
        return _ALL_ROLES
    return _ORGANS if quantity.endswith("_cumulative") else _TARGETS_AND_ORGANS


def prescription_gy(maps: PatientMaps) -> tuple[float | None, str | None]:
    """The current plan's target prescription dose, or None and the warning saying why."""
    value = maps.current.plan.target_prescription_dose_gy
    if value is None:
        return None, (
            "the current plan gives no target prescription dose (no TargetPrescriptionDose of a TARGET item in its "
            "DoseReferenceSequence): no % metrics, indices or overlays"
        )
    return float(value), None


@dataclass(frozen=True, eq=False)
class PatientDvhs:
    """Every DVH of the patient, keyed by (ROI name, quantity), in computation order.

    ``rois`` are the ROIs analysed (the first of any repeated name) with their ``roles``;
    ``roi_failures`` the ROIs that got no DVH and why; ``warnings`` what changed a number
    (contours dropped, volume outside the grid, metrics left out).
    """

    curves: Mapping[tuple[str, str], Dvh]
    rois: tuple[Roi, ...]
    roles: Mapping[str, RoiRole]
    planned_dose_name: str
    metrics: tuple[MetricRow, ...]
    roi_failures: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    end_cap: EndCapConvention = DEFAULT_END_CAP  # the convention every curve was computed under

    def get(self, roi: str, quantity: str) -> Dvh:
        """The DVH of ``roi`` on ``quantity``; a DosimetryError naming what exists when there is none."""
        try:
            return self.curves[(roi, quantity)]
        except KeyError:
            reason = self.roi_failures.get(roi)
            if reason is not None:
                raise GeometryError(f"ROI {roi!r} has no DVH: {reason}") from None
            quantities = sorted({q for (name, q) in self.curves if name == roi})
            raise ArgumentError(
                f"no DVH of ROI {roi!r} on {quantity!r}; "
                + (f"it has {quantities}" if quantities else f"ROIs: {sorted({n for n, _ in self.curves})}")
            ) from None

    def metric(self, roi: str, quantity: str, metric: str) -> float:
        """A metric row's value (e.g. ``metric("BrainStem", "EQD2_2_cumulative", "D0.03cc[Gy]")``)."""
        for row in self.metrics:
            if (row.roi, row.quantity, row.metric) == (roi, quantity, metric):
                return row.value
        return float(evaluate_metric(self.get(roi, quantity), metric))


def map_getters(maps: PatientMaps) -> dict[str, Callable[[], DoseGrid]]:
    """:func:`map_by_quantity` without computing the maps: each one's getter (the LQ maps are
    computed when asked for, see :class:`~dosimetry.patient.maps.LqMapSet`)."""
    def getter(source: Mapping[str, LqMap | CumulativeMap], key: str) -> Callable[[], DoseGrid]:
        return lambda: source[key].dose

    out: dict[str, Callable[[], DoseGrid]] = {maps.dose_quantity: lambda: maps.current.dose}
    out.update({key: getter(maps.lq, key) for key in maps.lq})
    out.update({key: getter(maps.cumulative, key) for key in maps.cumulative})
    return out


def map_by_quantity(maps: PatientMaps) -> dict[str, DoseGrid]:
    """Every dose map of the patient by quantity name: the planned dose, the LQ maps, the cumulative maps."""
    return {key: get() for key, get in map_getters(maps).items()}


class _MapsAhead:
    """The dose maps of the DVH stage, in their order, each made ahead in a background thread.

    :meth:`start` submits the getter of the next map to a one-thread pool (the getter's thread
    runs in a copy of the caller's context: numpy's error state, context variables); :meth:`get`
    returns the map, raising what its getter raised (the same exception object), or runs the getter
    in the calling thread when it was not started. The caller bounds how far ahead (the DVH stage:
    at most two made maps at once, the sampled one and the next). Measured reason (issue 20, clinical 256 x 256 x 160
    grid, 2 cores): the LQ and cumulative maps were made one after the other with the ROI
    geometries and the sampling (Python code holding the GIL) while the second core was idle; numpy's
    arithmetic releases the GIL, so a map is made while the previous one is sampled: the main
    thread waits 0.00-0.05 s in all for six maps made in 0.35-0.5 s of the other thread's CPU
    (1.2 s with their encoding for the export under ``write``; ``benchmarks/maps_ahead.py``), the
    peak RSS grows by one map (analyze 714 -> 815 MB). The maps are the same (the same getters,
    called once each, the maps after the planned dose in the same order)."""

    def __init__(self, getters: Mapping[str, Callable[[], DoseGrid]], pool: ThreadPoolExecutor) -> None:
        self._getters = getters
        self._pool = pool
        self._pending: dict[str, Future[DoseGrid]] = {}

    def start(self, quantity: str) -> None:
        if not background_maps_allowed():  # made by get(), in the calling thread (dosimetry.patient.background)
            return
        if quantity not in self._pending:
            context = contextvars.copy_context()
            self._pending[quantity] = self._pool.submit(context.run, self._getters[quantity])

    def get(self, quantity: str) -> DoseGrid:
        pending = self._pending.pop(quantity, None)
        if pending is None:
            return self._getters[quantity]()
        return pending.result()


@contextmanager
def _maps_ahead(getters: Mapping[str, Callable[[], DoseGrid]]) -> Iterator[_MapsAhead]:
    """A :class:`_MapsAhead` whose thread is ended when the block ends (a map still being made is
    waited for and dropped, with any error it raised: the block's own outcome counts)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dosimetry-map")
    try:
        yield _MapsAhead(getters, pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def compute_patient_dvhs(
    maps: PatientMaps, rois: tuple[Roi, ...], *, bin_width_gy: float = DVH_BIN_WIDTH_GY, tables: GridTables | None = None,
    on_map: OnMap | None = None, end_cap: EndCapConvention = DEFAULT_END_CAP,
    keep_samples: Callable[[str, Roi], bool] | None = None,
) -> PatientDvhs:
    """DVHs of ``rois`` on every map their role gets, and their metric rows (module docstring).

    ``tables``: the facade's :class:`GridTables`; the maps are sampled with the cumulative EQD2
    (late alpha/beta) last, so that its tables are still held for the convention spreads of the
    constraint rows (on that map); without it they are released here. ``on_map(quantity, dose,
    roi_failures, samples)`` is called after all ROIs are sampled on a map, while its tables are held (the facade computes the
    target indices there: :class:`~dosimetry.patient.indices.TargetIndicesRun`); the planned dose
    is sampled first. ``samples`` holds, by ROI name, the dose samples of the ROIs on that map for
    which ``keep_samples(quantity, roi)`` is true (the indices' targets and body: not sampled
    again), dropped after the call. ``end_cap``: the end-cap convention of every ROI (:mod:`dosimetry.dvh.endcaps`)."""
    with (tables or GridTables()).session() as held:
        return _patient_dvhs(maps, rois, bin_width_gy, held, on_map, EndCapConvention.parse(end_cap), keep_samples)


def _patient_dvhs(
    maps: PatientMaps, rois: tuple[Roi, ...], bin_width_gy: float, tables: GridTables,
    on_map: OnMap | None, end_cap: EndCapConvention, keep_samples: Callable[[str, Roi], bool] | None = None,
) -> PatientDvhs:
    grid = maps.current.dose.grid
    planned = maps.dose_quantity
    dose_maps = map_getters(maps)  # the LQ maps are computed on demand (each getter called once, _MapsAhead)
    roles = {r.name: roi_role(r) for r in rois}
    computed: dict[tuple[str, str], Dvh] = {}
    failures: dict[str, str] = {}
    roi_warnings: dict[str, list[str]] = {roi.name: [] for roi in rois}
    # the maps in sampling order, the cumulative EQD2 (late alpha/beta) last; each map after the
    # planned dose is made ahead in a background thread (_MapsAhead), the next while the current
    # one is sampled
    last = maps.eqd2_late_cumulative_key
    order = sorted(dose_maps, key=lambda q: q == last)
    with _maps_ahead(dose_maps) as ahead:
        # at most two made maps at once (the one sampled and the next); the planned dose is held by
        # the course anyway, so the first two are made while the geometries are computed and the
        # planned dose is sampled
        for quantity in order[1 : 3 if order[0] == planned else 2]:
            ahead.start(quantity)
        geometries = {}
        for roi in rois:
            if not roi.closed_planar_contours:
                failures[roi.name] = f"ROI {roi.name!r} has no closed planar contours"
                roi_warnings[roi.name].append(f"ROI {roi.name!r} has no closed planar contours: no DVH")
                continue
            try:
                geometries[roi.name] = geometry_for_grid(roi, grid, end_cap, None)
            except GeometryError as exc:
                failures[roi.name] = str(exc)
                roi_warnings[roi.name].append(f"ROI {roi.name!r}: {exc}")
        # one map at a time, all ROIs on it; sampling the next releases its per-grid sampling tables:
        # at most one map's tables (about seven copies of the grid) are held at once, not one per map
        for position, quantity in enumerate(order):
            tables.release()  # before the next map is sampled (no map is sampled twice here): a lower peak
            dose = tables.use(ahead.get(quantity))
            if position + 1 < len(order):
                ahead.start(order[position + 1])  # made while this one is sampled
            kept: dict[str, DoseSamples] = {}
            for roi in rois:
                geometry = geometries.get(roi.name)
                if geometry is None or roi.name in failures or roles[roi.name] not in roles_for(quantity, planned):
                    continue
                try:
                    samples = roi_dose_samples(dose, roi, geometry=geometry)
                    dvh = dvh_from_samples(
                        samples, roi_name=roi.name, roi_number=roi.number, bin_width_gy=bin_width_gy,
                        dose_type=str(dose.dose_type),
                    )
                except GeometryError as exc:
                    failures[roi.name] = str(exc)
                    roi_warnings[roi.name].append(f"ROI {roi.name!r}: {exc}")
                    continue
                if quantity == planned:
                    roi_warnings[roi.name].extend(dvh.warnings)
                computed[(roi.name, quantity)] = dvh
                if keep_samples is not None and keep_samples(quantity, roi):
                    kept[roi.name] = samples
                del samples
            if on_map is not None:
                on_map(quantity, dose, failures, kept)
            del dose, kept
    # in ROI order, each ROI's maps in map order (the order of every output)
    curves = {(roi.name, q): computed[(roi.name, q)] for roi in rois for q in dose_maps if (roi.name, q) in computed}
    warnings = [w for roi in rois for w in roi_warnings[roi.name]]
    prescription, note = prescription_gy(maps)
    if note is not None:
        warnings.append(note)
    metrics: list[MetricRow] = []
    for (name, quantity), dvh in curves.items():
        wanted = list(METRICS)
        if quantity == planned and roles[name] is RoiRole.TARGET and prescription is not None:
            wanted += list(TARGET_COVERAGE_METRICS)
        for metric in wanted:
            try:
                value = evaluate_metric(dvh, metric, prescription_gy=prescription)
            except MetricError as exc:
                if quantity == planned:
                    warnings.append(f"ROI {name!r}: {metric} not reported: {exc}")
                continue
            unit = metric[metric.index("[") + 1 : -1]
            metrics.append(MetricRow(roi=name, quantity=quantity, metric=metric, value=float(value), unit=unit))
    return PatientDvhs(
        curves=curves, rois=rois, roles=roles, planned_dose_name=planned, metrics=tuple(metrics),
        roi_failures=failures, warnings=tuple(dict.fromkeys(warnings)), end_cap=end_cap,
    )
