"""The DVH engine's per-grid sampling tables of one dose map at a time, shared by the analysis steps.

The DVH engine keeps, per dose grid, tables every ROI sampled on it shares (voxel means and spreads,
neighbourhood ranges, cell ranges, steep-voxel samples: about seven float64 copies of the grid,
:func:`dosimetry.dvh.release_grid_caches`). Building them is the largest per-map cost of an
analysis (about 0.6 s on a 256 x 256 x 160 grid); holding two maps' tables at once would cost
another 560 MB there. Each step of the facade used to release its map's tables when done, so a
map used by two consecutive steps (the prior course's EQD2 by the re-irradiation type and the
re-irradiation limits, the cumulative EQD2 by the DVHs and the convention spreads) had them built
twice.

:class:`GridTables` holds the tables of the map last sampled: :meth:`GridTables.use` releases the
previous map's tables when a different map is sampled, and the outermost :meth:`GridTables.session`
releases the last map's when it ends, so after a facade step no map's tables are held. The numbers
do not change: the tables are a cache of values computed from the grid alone.

:meth:`GridTables.derived` gives the last map a step computed for itself (the prior course's EQD2)
to the next step of the same session while that map is still held (by :meth:`GridTables.use`:
a weak reference, so it costs no memory), so that both sample the same grid object and share its
tables.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
import weakref
from contextlib import contextmanager

from dosimetry.dose import DoseGrid
from dosimetry.dvh import release_grid_caches


class GridTables:
    """One dose map's DVH sampling tables at a time (module docstring). Not thread-safe: one per
    :class:`~dosimetry.patient.facade.Patient`, used by its steps one after the other."""

    def __init__(self) -> None:
        self._held: DoseGrid | None = None
        self._depth = 0
        self._derived: tuple[tuple[Hashable, ...], tuple[object, ...], weakref.ref[DoseGrid]] | None = None

    def use(self, dose: DoseGrid) -> DoseGrid:
        """``dose`` is about to be sampled: release the tables of any other map held; returns ``dose``."""
        if self._held is not None and self._held is not dose:
            release_grid_caches(self._held)
        self._held = dose
        return dose

    def derived(
        self, key: tuple[Hashable, ...], sources: tuple[object, ...], compute: Callable[[], DoseGrid]
    ) -> DoseGrid:
        """``compute()``, or the map it gave last time for the same ``key`` computed from the same
        ``sources`` (compared by identity) within this session, if that map still exists."""
        last = self._derived
        if last is not None and last[0] == key and len(last[1]) == len(sources) and all(
            a is b for a, b in zip(last[1], sources, strict=True)
        ):
            kept = last[2]()
            if kept is not None:
                return kept
        dose = compute()
        self._derived = (key, sources, weakref.ref(dose)) if self._depth > 0 else None
        return dose

    def release(self) -> None:
        """Release the tables of the map held (if any) and the derived map kept."""
        self._derived = None
        if self._held is not None:
            release_grid_caches(self._held)
            self._held = None

    @contextmanager
    def session(self) -> Iterator[GridTables]:
        """A block whose steps share the tables; the outermost block releases them when it ends."""
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.release()
