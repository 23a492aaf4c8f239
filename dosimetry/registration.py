"""Spatial registrations between frames of reference (LPS, mm)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dosimetry.errors import GeometryError


@dataclass(frozen=True, eq=False)
class RigidRegistration:
    """``matrix`` (4x4, homogeneous) maps a point given in ``source_frame_uid`` coordinates to
    ``target_frame_uid`` coordinates: p_target = M @ p_source.

    In a DICOM Spatial Registration object the Registration Sequence item whose
    FrameOfReferenceUID is F carries a matrix that maps coordinates of F into the registration's
    own FrameOfReferenceUID (PS3.3 C.20.2.1.1), so source = item frame, target = the object's frame.
    """

    source_frame_uid: str
    target_frame_uid: str
    matrix: npt.NDArray[np.float64]
    sop_instance_uid: str = ""
    source_path: Path | None = None

    def __post_init__(self) -> None:
        m = np.array(self.matrix, dtype=np.float64)
        if m.shape != (4, 4):
            raise GeometryError(f"registration matrix must be 4x4, got {m.shape}")
        if not np.all(np.isfinite(m)):
            raise GeometryError(f"registration matrix must hold finite numbers, got {m.tolist()}")
        if not np.allclose(m[3], [0, 0, 0, 1]):
            raise GeometryError(f"registration matrix last row must be (0, 0, 0, 1), got {m[3]}")
        m.flags.writeable = False
        object.__setattr__(self, "matrix", m)

    @property
    def is_rigid(self) -> bool:
        r = self.matrix[:3, :3]
        return bool(np.allclose(r @ r.T, np.eye(3), atol=1e-4) and np.isclose(np.linalg.det(r), 1.0, atol=1e-4))

    def inverse(self) -> RigidRegistration:
        return RigidRegistration(
            source_frame_uid=self.target_frame_uid,
            target_frame_uid=self.source_frame_uid,
            matrix=np.asarray(np.linalg.inv(self.matrix), dtype=np.float64),
            sop_instance_uid=self.sop_instance_uid,
            source_path=self.source_path,
        )

    def map_points(self, points_mm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map (N, 3) points from the source frame to the target frame."""
        pts = np.asarray(points_mm, dtype=np.float64)
        return pts @ self.matrix[:3, :3].T + self.matrix[:3, 3]
