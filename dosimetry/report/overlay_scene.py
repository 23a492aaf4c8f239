"""The CT, the ROI outlines and the planes of the report's isodose overlays, built where they are drawn.

Measured reason (issue 20, clinical case, 2 cores): after the analysis, the overlays read the CT
(0.43-0.78 s CPU of the main process), rasterised the ROI outlines on the CT grid (0.26 s) and then
waited about 1 s for the render processes, which drew all 8 figures after the analysis while they
had idled during it. An :class:`OverlayScene` is what the overlay section needs of the CT: built
from :class:`SceneInputs` (the CT series, the planned dose, the ROIs to outline) by
:func:`start_early_overlays` in the render processes while the main process runs the analysis
(:class:`StartScene`, then :class:`BuildScene`), which then also draw the three planes through the
target centroid (:class:`DrawScenePlane`); the section later asks them for the ROIs crossing the
hottest-voxel and overlap planes (:class:`ExtendScene`) and for those planes, each sent with the
block of the planned dose it samples (a render process keeps the centre planes' dose only).
Without render processes (``report_workers=0``) or without an early start, the section builds
the same scene in the main process
(:func:`dosimetry.report.figure_sections.overlay_section`). The PNGs are the same bytes either way:
the same scene code, the same drawing function on the same arrays.

A plane's outlines are the ROIs boxed so far (:meth:`OverlayScene.contours`): the three centroid
planes may be drawn before the ROIs that only cross a hottest-voxel plane are boxed; such an ROI
has occupancy 0 on the centroid planes (:func:`~dosimetry.report.planes.may_cross` bounds it), and
an outline with occupancy below 0.5 on a plane is neither drawn nor listed, so its figure is the same.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dosimetry.errors import DosimetryError
from dosimetry.report.figure_data import OverlayContour, OverlayMarker
from dosimetry.report.planes import (
    BoxedOccupancy,
    DoseBlock,
    FloatArray,
    PlaneAxis,
    ct_plane,
    dose_block,
    may_cross,
    nearest_index,
    plane_index,
    plane_unavailable,
)
from dosimetry.report.render_process import FigureJob, draw

if TYPE_CHECKING:
    from dosimetry.dose import DoseGrid
    from dosimetry.dvh.endcaps import EndCapConvention
    from dosimetry.io.ct_reader import CtSeries, StoredCtVolume
    from dosimetry.report.render_process import RenderProcesses
    from dosimetry.structures import Roi

#: Target outline colours (protocol Fig. 1 style): GTV, CTV, PTV.
TARGET_COLOURS = {"GTV": (220, 0, 220), "CTV": (0, 200, 255), "PTV": (0, 255, 0)}
ISODOSE_LEVELS_PCT = (95.0, 85.0, 70.0, 30.0)

#: The three planes through the centre, in the report's order.
CENTRE_AXES = (PlaneAxis.AXIAL, PlaneAxis.SAGITTAL, PlaneAxis.CORONAL)


def roi_colour(roi: Any) -> tuple[int, int, int] | None:
    """The ROI's display colour, darkened when too light to see on a white plot."""
    rgb = getattr(roi, "color_rgb", None)
    if not rgb:
        return None
    r, g, b = (int(c) for c in rgb)
    luminance = (0.299 * r + 0.587 * g + 0.114 * b) / 255.0
    if luminance > 0.75:
        scale = 0.75 / luminance
        r, g, b = int(r * scale), int(g * scale), int(b * scale)
    return r, g, b


@dataclass(frozen=True, eq=False)
class SceneInputs:
    """What a scene is built from: the CT ``series`` (in the dose's frame), the planned ``dose``, the
    ROIs to outline with their target kind (GTV/CTV/PTV, None for an organ at risk) in the report's
    order, and the analysis's end-cap convention."""

    series: CtSeries
    dose: DoseGrid
    drawable: tuple[tuple[Roi, str | None], ...]
    end_cap: EndCapConvention

    def same_as(self, other: SceneInputs) -> bool:
        """The same objects (the early start's inputs are those the section would use)."""
        return (
            self.series is other.series and self.dose is other.dose and self.end_cap == other.end_cap
            and len(self.drawable) == len(other.drawable)
            and all(a is c and b == d for (a, b), (c, d) in zip(self.drawable, other.drawable, strict=True))
        )


@dataclass(frozen=True)
class SceneSummary:
    """What the section needs of a scene: ``error`` (the CT could not be read: the overlays are not
    available), else the planes' centre ``point_mm`` (x, y, z), how it was found (``where``,
    ``centre_from``: the target kind or None for the dose maximum) and the ROIs not drawn so far
    (``failures``: index in ``drawable`` -> the error's text)."""

    error: str | None
    point_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    where: str = ""
    centre_from: str | None = None
    failures: tuple[tuple[int, str], ...] = ()


def centre_title(axis: PlaneAxis, point: tuple[float, float, float], centre_from: str | None) -> str:
    coordinate = {"axial": "z", "sagittal": "x", "coronal": "y"}[axis.value]
    value = {"axial": point[2], "sagittal": point[0], "coronal": point[1]}[axis.value]
    return f"{axis.value.capitalize()} plane through the {centre_from or 'dose maximum'}, {coordinate} = {value:.1f} mm"


@dataclass(frozen=True, eq=False)
class SceneCt:
    """The CT of a scene (:class:`~dosimetry.report.planes.CtSource`): the HU of the planes through
    the centre, made when the CT is read, and of any other axial plane read from its slice when
    asked for (:func:`~dosimetry.io.ct_reader.load_ct_axial_hu`; another sagittal or coronal plane:
    the whole series read again). The same numbers as planes of the HU volume. Measured reason
    (issue 20, clinical case): the scene's CT, stored values of 256 x 256 x 160 slices, held 20 MiB
    in the render process for the run to draw three planes through the centre and a few axial planes."""

    series: CtSeries
    planes: dict[tuple[PlaneAxis, int], FloatArray]  # the planes kept: (axis, index) -> HU

    @classmethod
    def of(cls, series: CtSeries, stored: StoredCtVolume, keep: Iterable[tuple[PlaneAxis, int]]) -> SceneCt:
        """The CT of ``series`` read as ``stored``, keeping the planes ``keep`` ((axis, index) pairs)."""
        return cls(series, {(axis, index): stored.hu(plane_index(axis, index)) for axis, index in keep})

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return self.series.grid.shape_zyx

    def plane_hu(self, axis: PlaneAxis, index: int) -> FloatArray:
        from dosimetry.io.ct_reader import load_ct_axial_hu, load_ct_stored

        axis = PlaneAxis(axis)
        kept = self.planes.get((axis, index))
        if kept is not None:
            return kept
        if axis is PlaneAxis.AXIAL:
            return load_ct_axial_hu(self.series, index)
        return load_ct_stored(self.series).hu(plane_index(axis, index))


class OverlayScene:
    """The CT planes, the centre of the planes and the ROI outlines (each kept as its box) of one
    report's overlays. Targets first (the first of each kind gives its centroid, the planes' centre),
    then only the ROIs whose bounds can reach a drawn plane (:meth:`extend`; measured reason: the
    code this came from, :func:`~dosimetry.report.figure_sections.overlay_section`).

    Of the CT the scene keeps the HU of the three planes through the centre (:class:`SceneCt`; an
    axial plane through another voxel is read from its slice when drawn: the numbers of the HU
    volume). In a render process the scene keeps the dose of the three centre planes only
    (:meth:`release_dose`); a later plane's dose comes with its job
    (:func:`~dosimetry.report.planes.dose_block`). Measured reason (issue 20, clinical case,
    ``benchmarks/report_scene_memory.py``): the render process building the scene held the float64
    CT and the whole planned dose, 160 MiB, from its start to the end of the run."""

    def __init__(self, inputs: SceneInputs, *, read_ct: bool = True) -> None:
        """The scene of ``inputs``: the targets boxed and the centre found, then (``read_ct``, else
        :meth:`read_ct` later) the CT read and the ROIs crossing the centre planes boxed."""
        self.series, self.drawable, self.end_cap = inputs.series, inputs.drawable, inputs.end_cap
        self._dose: DoseGrid | None = inputs.dose
        self._blocks: dict[tuple[PlaneAxis, int], DoseBlock] = {}  # the dose kept for a plane (axis, CT index)
        self.boxes: dict[int, BoxedOccupancy] = {}
        self.failures: dict[int, str] = {}
        self._undecided: set[int] = set()
        self._axial: set[int] = set()
        grid = inputs.series.grid
        centroids: dict[str, tuple[float, float, float]] = {}
        for n, (roi, kind) in enumerate(inputs.drawable):
            if kind is not None and kind not in centroids:
                box = self._box_of(n, roi)
                if box is not None:
                    centroids[kind] = box.centroid_mm(grid)
        centre_from = next((k for k in ("GTV", "CTV", "PTV") if k in centroids), None)
        dose = inputs.dose
        if centre_from is not None:
            point = centroids[centre_from]
            where = f"centroid of the {centre_from}"
        else:
            k, j, i = np.unravel_index(int(np.argmax(dose.dose_gy)), dose.grid.shape_zyx)
            point = (float(dose.grid.x_mm[i]), float(dose.grid.y_mm[j]), float(dose.grid.z_mm[k]))
            where = "dose maximum (no GTV/CTV/PTV outline on the CT grid)"
        self.point, self.where, self.centre_from = point, where, centre_from
        self.summary = SceneSummary(error="overlay scene: the CT is not read yet")
        if read_ct:
            self.read_ct()

    def read_ct(self) -> SceneSummary:
        """Read the CT (its stored values) and box the ROIs that may cross the three centre planes;
        the scene's summary (its ``error`` when the CT cannot be read: the overlays are not available)."""
        from dosimetry.io.ct_reader import load_ct_stored

        try:
            stored = load_ct_stored(self.series)
        except DosimetryError as exc:
            self.summary = SceneSummary(error=str(exc))
            return self.summary
        self.ct = SceneCt.of(self.series, stored, [self._plane_key(axis, self.point) for axis in CENTRE_AXES])
        del stored
        self._undecided = {n for n in range(len(self.drawable)) if n not in self.boxes and n not in self.failures}
        self.extend({nearest_index(self.series.grid.z_mm, self.point[2])})
        self.summary = SceneSummary(None, self.point, self.where, self.centre_from, tuple(sorted(self.failures.items())))
        return self.summary

    @property
    def inputs(self) -> SceneInputs:
        """What the scene was built from; DosimetryError once its dose is released (:meth:`release_dose`)."""
        if self._dose is None:
            raise DosimetryError("overlay scene: its dose was released (the scene keeps the centre planes' dose only)")
        return SceneInputs(self.series, self._dose, self.drawable, self.end_cap)

    def _plane_key(self, axis: PlaneAxis, at: tuple[float, float, float]) -> tuple[PlaneAxis, int]:
        grid = self.series.grid
        coordinates, value = {
            PlaneAxis.AXIAL: (grid.z_mm, at[2]), PlaneAxis.SAGITTAL: (grid.x_mm, at[0]), PlaneAxis.CORONAL: (grid.y_mm, at[1]),
        }[PlaneAxis(axis)]
        return PlaneAxis(axis), nearest_index(coordinates, value)

    def release_dose(self) -> None:
        """Keep the dose of the three planes through the centre (:func:`~dosimetry.report.planes.dose_block`)
        and let the dose grid go: a later plane is drawn with its dose block given (:meth:`plane_job`)."""
        if self._dose is None:
            return
        for axis in CENTRE_AXES:
            self._blocks[self._plane_key(axis, self.point)] = dose_block(self._dose, self.series.grid, axis, self.point)
        self._dose = None

    def _box_of(self, n: int, roi: Roi) -> BoxedOccupancy | None:
        try:
            self.boxes[n] = BoxedOccupancy.of_roi(roi, self.series.grid, self.end_cap)
        except DosimetryError as exc:
            self.failures[n] = str(exc)
            return None
        return self.boxes[n] if float(self.boxes[n].values.sum()) > 0 else None

    def extend(self, axial: Iterable[int]) -> tuple[tuple[int, str], ...]:
        """Box the ROIs that may cross the axial slices drawn so far and ``axial``, or the sagittal
        and coronal planes through the centre; returns every failure so far (index, text)."""
        grid = self.series.grid
        self._axial |= set(axial)
        sagittal, coronal = nearest_index(grid.x_mm, self.point[0]), nearest_index(grid.y_mm, self.point[1])
        for n in sorted(self._undecided):
            roi = self.drawable[n][0]
            try:
                if may_cross(roi, grid, axial=self._axial, sagittal=sagittal, coronal=coronal, end_cap=self.end_cap):
                    self._undecided.discard(n)
                    self._box_of(n, roi)
            except DosimetryError as exc:
                self._undecided.discard(n)
                self.failures[n] = str(exc)
        return tuple(sorted(self.failures.items()))

    def contours(self) -> list[tuple[str, BoxedOccupancy, tuple[int, int, int]]]:
        """(name, box, colour) of the ROIs boxed so far with volume on the CT grid, in the report's order."""
        out = []
        for n, (roi, kind) in enumerate(self.drawable):
            if n not in self.failures and n in self.boxes and float(self.boxes[n].values.sum()) > 0:
                colour = TARGET_COLOURS[kind] if kind is not None else (roi_colour(roi) or (255, 255, 255))
                out.append((roi.name, self.boxes[n], colour))
        return out

    def plane_dose(self, axis: PlaneAxis, at: tuple[float, float, float], given: DoseBlock | None = None) -> DoseGrid | DoseBlock:
        """The dose the plane is sampled from: ``given``, else the scene's dose grid, else the block
        kept for that plane (:meth:`release_dose`); DosimetryError when the scene has none of them."""
        if given is not None:
            return given
        if self._dose is not None:
            return self._dose
        block = self._blocks.get(self._plane_key(axis, at))
        if block is None:
            raise DosimetryError(f"overlay scene: no dose for the {PlaneAxis(axis).value} plane through {at} (the dose grid was released)")
        return block

    def plane_job(
        self, fid: str, axis: PlaneAxis, at: tuple[float, float, float], title: str, marker: str | None,
        reference_gy: float, dose_unit: str, dose: DoseBlock | None = None,
    ) -> FigureJob:
        """The figure job of one plane (the plane must be available: :func:`plane_unavailable`);
        ``dose``: the plane's dose block (:func:`~dosimetry.report.planes.dose_block`), None: the
        scene's own (:meth:`plane_dose`)."""
        plane = ct_plane(self.ct, self.series.grid, self.plane_dose(axis, at, dose), axis, at)
        overlay_contours = [OverlayContour(name, plane.take(occ), colour) for name, occ, colour in self.contours()]
        short = None if not marker else marker.split(":")[0] + (" hottest voxel" if fid.startswith("overlay-hot") else " overlap")
        markers = [OverlayMarker(at[0], at[1], short)] if short and axis is PlaneAxis.AXIAL else []
        return FigureJob(fid, "isodose_overlay", (plane.ct_hu, plane.dose_gy), {
            "extent_mm": plane.extent_mm, "reference_gy": float(reference_gy), "contours": overlay_contours, "title": title,
            "axis_labels": plane.axis_labels, "levels_pct": ISODOSE_LEVELS_PCT, "flip_vertical": plane.flip_vertical,
            "dose_unit": dose_unit, "markers": markers,
        })


# ---------------------------------------------------------------- tasks run in a render process
def _scenes(state: dict[str, Any]) -> dict[int, OverlayScene]:
    scenes: dict[int, OverlayScene] = state.setdefault("overlay_scenes", {})
    return scenes


def _scene(state: dict[str, Any], scene_id: int, figure_id: str) -> OverlayScene:
    scene = _scenes(state).get(scene_id)
    if scene is None:
        raise DosimetryError(f"{figure_id}: overlay scene {scene_id} was not built in this render process")
    return scene


@dataclass(frozen=True, eq=False)
class StartScene:
    """Start scene ``scene_id`` from ``inputs`` in the render process: the targets boxed, the centre
    found and the dose of the three centre planes kept (:meth:`OverlayScene.release_dose`); answers
    None. The CT is read by :class:`BuildScene`, the next task: measured reason (issue 20, clinical
    case): the task's ``inputs`` hold the planned dose (80 MiB) until the task ends, and reading the
    CT and boxing the ROIs crossing the centre planes took most of the scene's 1.5 s CPU."""

    figure_id: str
    scene_id: int
    inputs: SceneInputs

    def run(self, state: dict[str, Any]) -> None:
        scene = OverlayScene(self.inputs, read_ct=False)
        scene.release_dose()
        _scenes(state)[self.scene_id] = scene


@dataclass(frozen=True, eq=False)
class BuildScene:
    """Read the CT of scene ``scene_id`` (:class:`StartScene`) in the render process
    (:meth:`OverlayScene.read_ct`); answers its :class:`SceneSummary`."""

    figure_id: str
    scene_id: int

    def run(self, state: dict[str, Any]) -> SceneSummary:
        return _scene(state, self.scene_id, self.figure_id).read_ct()


@dataclass(frozen=True, eq=False)
class ExtendScene:
    """:meth:`OverlayScene.extend` in the render process; answers the failures so far."""

    figure_id: str
    scene_id: int
    axial: frozenset[int]

    def run(self, state: dict[str, Any]) -> tuple[tuple[int, str], ...]:
        return _scene(state, self.scene_id, self.figure_id).extend(self.axial)


@dataclass(frozen=True, eq=False)
class DrawScenePlane:
    """One plane of the scene drawn in the render process: PNG bytes, or None when the CT cannot
    show it (:func:`plane_unavailable`; the section warns) or the scene has no CT. ``at`` None: the
    scene's centre (a plane through the centroid, titled by :func:`centre_title`). ``dose``: the
    plane's :func:`~dosimetry.report.planes.dose_block` (None: the one the scene kept, a centre plane)."""

    figure_id: str
    scene_id: int
    axis: PlaneAxis
    reference_gy: float
    dose_unit: str
    at: tuple[float, float, float] | None = None
    title: str = ""
    marker: str | None = None
    dose: DoseBlock | None = None

    def run(self, state: dict[str, Any]) -> bytes | None:
        scene = _scene(state, self.scene_id, self.figure_id)
        if scene.summary.error is not None:
            return None
        at = scene.point if self.at is None else self.at
        if plane_unavailable(scene.series.grid, self.axis, at) is not None:
            return None
        title = centre_title(self.axis, at, scene.centre_from) if self.at is None else self.title
        job = scene.plane_job(self.figure_id, self.axis, at, title, self.marker, self.reference_gy, self.dose_unit, self.dose)
        return draw(job)


# ---------------------------------------------------------------- the main process's side
_SCENE_IDS = itertools.count()


@dataclass(frozen=True, eq=False)
class EarlyOverlays:
    """Scenes being built in the render processes (one per process in ``processes``) since before the
    analysis, and the three centre planes they draw; :func:`start_early_overlays` makes it, the overlay
    section uses it when its own inputs and prescription are these."""

    renderer: RenderProcesses
    scene_id: int
    inputs: SceneInputs
    reference_gy: float
    dose_unit: str
    processes: tuple[int, ...]
    summaries: tuple[Callable[[], Any], ...]
    centre_planes: tuple[Callable[[], Any], ...]  # in CENTRE_AXES order

    def summary(self) -> SceneSummary:
        """The scene's summary (the same in every process: the same code on the same inputs)."""
        answers: list[SceneSummary] = [wait() for wait in self.summaries]
        return answers[0]

    def extend(self, axial: set[int]) -> tuple[tuple[int, str], ...]:
        waits = [self.renderer.run(ExtendScene("overlay-extend", self.scene_id, frozenset(axial)), process=p) for p in self.processes]
        answers: list[tuple[tuple[int, str], ...]] = [wait() for wait in waits]
        return answers[0]

    def plane(self, fid: str, axis: PlaneAxis, at: tuple[float, float, float], title: str, marker: str | None) -> Callable[[], bytes]:
        """Send one more plane (available, checked by the caller) to the process with the fewest figures
        awaited, with the block of the dose it samples (the scenes there keep the centre planes' only)."""
        block = dose_block(self.inputs.dose, self.inputs.series.grid, axis, at)
        job = DrawScenePlane(fid, self.scene_id, axis, self.reference_gy, self.dose_unit, at, title, marker, block)
        return self.renderer.run(job, process=self.renderer.least_busy(self.processes))


#: The 1-minute load average, as a share of the cores, from which :func:`spare_core` says no (1: as
#: many runnable processes as cores; one ``analyze`` after another keeps it near 1-1.5 on 2 cores).
BUSY_LOAD_PER_CORE = 1.0


def spare_core() -> bool:
    """Whether the machine seems to have a core to spare for the early scene: the 1-minute load
    average below :data:`BUSY_LOAD_PER_CORE` x the cores (``os.getloadavg``; True where the system
    gives none). Measured reason (``benchmarks/report_tail.py``, clinical case, 2 cores, medians of
    3): on a quiet machine (load 0.5-0.9) the early scene took ``analyze`` from 10.4 to 9.0 s; with
    other work running (load 2-4) it slowed the analysis from 7.0 to 14.0 s (the scene's 2-3 s CPU in
    a render process competes with it) and the whole run from 15.8 to 21.3 s. Without the early
    scene the section builds the same scene in the main process (the same outputs)."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return True
    return load < BUSY_LOAD_PER_CORE * (os.cpu_count() or 1)


def _started_and_built(renderer: RenderProcesses, scene_id: int, inputs: SceneInputs, process: int) -> Callable[[], SceneSummary]:
    """Send :class:`StartScene` and :class:`BuildScene` to ``process``; the returned function waits
    for both and gives the scene's summary."""
    started = renderer.run(StartScene("overlay-scene", scene_id, inputs), process=process)
    built = renderer.run(BuildScene("overlay-scene", scene_id), process=process)

    def summary() -> SceneSummary:
        started()
        answer: SceneSummary = built()
        return answer

    return summary


def start_early_overlays(
    renderer: RenderProcesses, inputs: SceneInputs, reference_gy: float, dose_unit: str, *, processes: Sequence[int] | None = None
) -> EarlyOverlays:
    """Build the scene in the render processes ``processes`` (default: the first one only) and draw
    the three centre planes there, before the analysis (module docstring). One process, not each:
    measured (clinical case) the scene cost 1.9 s CPU per process (the CT, the outlines, the modules
    they import), which during the analysis competes with it for the 2 cores; the figures after the
    analysis (0.2 s each) are few."""
    chosen = (0,) if processes is None else tuple(processes)
    scene_id = next(_SCENE_IDS)
    summaries = tuple(_started_and_built(renderer, scene_id, inputs, p) for p in chosen)
    planes = tuple(
        renderer.run(DrawScenePlane(f"overlay-{axis.value}", scene_id, axis, reference_gy, dose_unit),
                     process=chosen[k % len(chosen)])
        for k, axis in enumerate(CENTRE_AXES)
    )
    return EarlyOverlays(renderer, scene_id, inputs, reference_gy, dose_unit, chosen, summaries, planes)
