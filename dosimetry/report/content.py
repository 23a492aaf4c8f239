"""Value objects describing a report independently of how it is rendered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from dosimetry.errors import ArgumentError


class RowStyle(StrEnum):
    """Row status shown with a colour in tables."""

    NONE = ""
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    NOT_EVALUABLE = "not-evaluable"
    HIGHLIGHT = "highlight"  # a row to point out (e.g. the patient's dose level), not a verdict


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_status: tuple[RowStyle, ...] = ()
    note: str = ""
    nowrap_columns: tuple[str, ...] = ()  # columns whose cells never wrap on screen (short values with units)

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ArgumentError(
                    f"table {self.title!r}: row {i} has {len(row)} cells, expected {len(self.columns)}"
                )
        if self.row_status and len(self.row_status) != len(self.rows):
            raise ArgumentError(f"table {self.title!r}: row_status must have one entry per row")


@dataclass(frozen=True)
class Figure:
    """A PNG figure; ``figure_id`` becomes the HTML id (used by tests and links)."""

    figure_id: str
    title: str
    png: bytes
    caption: str = ""

    def __post_init__(self) -> None:
        if not self.png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ArgumentError(f"figure {self.figure_id!r}: png must be PNG bytes")


@dataclass(frozen=True, eq=False)
class PendingFigure:
    """A :class:`Figure` whose PNG is being drawn elsewhere (a render process,
    :mod:`dosimetry.report.render_process`): ``png()`` waits for the bytes. The report builder
    replaces it by its Figure (:meth:`resolve`) before the page is rendered."""

    figure_id: str
    title: str
    png: Callable[[], bytes]
    caption: str = ""

    def resolve(self) -> Figure:
        return Figure(self.figure_id, self.title, self.png(), self.caption)


@dataclass(frozen=True)
class SignOff:
    """A reviewer sign-off block: one blank line to fill in per ``fields`` entry (name, date, signature)."""

    title: str
    fields: tuple[str, ...]
    statement: str = ""


@dataclass(frozen=True)
class Details:
    """Content folded by default (an HTML details element), e.g. the full provenance."""

    summary: str
    items: tuple[Paragraph | Table | Figure, ...]


Item = Paragraph | Table | Figure | PendingFigure | SignOff | Details


@dataclass(frozen=True)
class Section:
    heading: str
    items: tuple[Item, ...]
    section_id: str = ""


@dataclass(frozen=True)
class Banner:
    """The verdict at the top of the page: ``verdict`` is "pass", "violation" or "not_evaluable";
    ``findings`` one table of failing (and not evaluable) checks; ``scope`` what dose was summed."""

    verdict: str
    headline: str
    scope: str
    findings: Table | None = None


@dataclass(frozen=True)
class WarningGroup:
    """Warnings of one severity (``severity`` is also the CSS class: "review" or "note")."""

    severity: str
    title: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    warnings: tuple[str, ...] = field(default=())
    banner: Banner | None = None
    warning_groups: tuple[WarningGroup, ...] = field(default=())
