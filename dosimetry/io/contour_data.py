"""Contour Data (3006,0050) values parsed from their raw bytes, for all contours of a file at once.

Why hand-written (measured, ``benchmarks/structure_reader_scale.py``, 19 MB head-and-neck-size RT
Structure Set, 40 ROIs, 2,837 contours): pydicom decodes each Contour Data value into a list of
Python floats, 6.2 s for the file; reading the same file with pydicom but leaving Contour Data
undecoded and converting every value here with one numpy call takes 0.69 s for the whole load.
Values equal pydicom's conversion (both round each decimal string to the nearest float64), which
tests/test_io_structure_contour_data.py checks on generated files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from dosimetry.errors import DicomContentError
from dosimetry.io.dicom_file import tag_label

FloatArray = npt.NDArray[np.float64]
#: (3006,0050) Contour Data
CONTOUR_DATA_TAG = 0x30060050


def raw_contour_data(item: Dataset) -> bytes | None:
    """The undecoded bytes of an item's Contour Data (DS), or None when pydicom has already
    converted the element (a dataset built in memory) or the VR is not DS/UN."""
    raw = item.get_item(CONTOUR_DATA_TAG)
    if isinstance(raw, RawDataElement) and isinstance(raw.value, (bytes, bytearray)) and raw.VR in (None, "DS", "UN"):
        return bytes(raw.value)
    return None


def parse_decimal_strings(values: list[bytes], path: Path, contexts: Sequence[str]) -> list[FloatArray]:
    """Parse DS multi-values (raw bytes: backslash-separated decimal strings, padded with spaces or
    NUL) into float arrays with one numpy conversion for all of them.

    Values equal those of pydicom's conversion (both round each decimal string to the nearest
    float64). An empty value, an empty component, a component that is not a decimal number or a
    non-finite number raises DicomContentError naming the file and ``contexts[i]``.
    """
    if not values:
        return []
    flat, counts = parse_decimal_flat(values, path, contexts)
    return np.split(flat, np.cumsum(counts)[:-1])


def parse_decimal_flat(values: list[bytes], path: Path, contexts: Sequence[str]) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """:func:`parse_decimal_strings` as one array of all values and the number of values of each."""
    texts = [v.replace(b"\x00", b" ") for v in values]
    counts = np.array([t.count(b"\\") + 1 for t in texts], dtype=np.intp)
    parts = b"\\".join(texts).split(b"\\")
    try:
        flat = np.array(parts, dtype=np.float64)
    except ValueError:
        flat = None
    if flat is None or not np.all(np.isfinite(flat)):
        for text_value, context in zip(texts, contexts, strict=True):
            where = f" in {context}" if context else ""
            if not text_value.strip():
                raise DicomContentError(f"{path}: required tag {tag_label('ContourData')} is missing or empty{where}")
            for part in text_value.split(b"\\"):
                try:
                    number = float(part)
                except ValueError:
                    raise DicomContentError(
                        f"{path}: {tag_label('ContourData')}{where} holds {part.strip().decode('latin-1')!r}, "
                        "expected decimal numbers"
                    ) from None
                if not np.isfinite(number):
                    raise DicomContentError(f"{path}: {tag_label('ContourData')}{where} holds non-finite numbers")
        raise DicomContentError(f"{path}: {tag_label('ContourData')} could not be parsed")  # not reached
    return flat, counts


def z_spans(flat: FloatArray, counts: npt.NDArray[np.intp]) -> FloatArray | None:
    """Per value list of :func:`parse_decimal_flat`, the range of its z coordinates (max - min, as
    ``np.ptp(points[:, 2])`` gives), in one pass; None unless every list holds whole points."""
    if counts.size == 0 or np.any(counts % 3):
        return None
    z = flat[2::3]
    starts = np.concatenate(([0], np.cumsum(counts[:-1]) // 3))
    return np.maximum.reduceat(z, starts) - np.minimum.reduceat(z, starts)


def plane_estimates(flat: FloatArray, counts: npt.NDArray[np.intp]) -> tuple[list[float], list[bool]]:
    """Per value list of :func:`parse_decimal_flat` (whole points only), its contour plane as
    :meth:`~dosimetry.structures.Roi.contour_planes_mm` gives it (``round(Contour.z_mm, 3)``), and
    whether that is certain. The mean z here comes from one reduceat over all contours, summed in
    another order than numpy's per-contour mean; the two differ by less than ``4 n eps max|z|``, so
    the rounding agrees whenever the mean is farther than that from a rounding boundary
    ((k + 1/2) * 0.001 mm). Uncertain planes are left to ``Roi.contour_planes_mm``."""
    z = flat[2::3]
    n = counts // 3
    starts = np.concatenate(([0], np.cumsum(n[:-1])))
    means = np.add.reduceat(z, starts) / n
    bound = 4.0 * n * np.finfo(np.float64).eps * np.maximum.reduceat(np.abs(z), starts) + 1e-9
    scaled = means * 1000.0
    certain = np.abs(scaled - np.floor(scaled) - 0.5) / 1000.0 > bound
    return [round(m, 3) for m in means.tolist()], certain.tolist()
