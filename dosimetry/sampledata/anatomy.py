"""Synthetic head-and-neck anatomy around a recurrent nasopharyngeal tumour at the skull base.

All coordinates are DICOM patient LPS in mm in the *anatomy frame*, which is the frame of
reference of the current (carbon-ion) course: +x patient left, +y posterior, +z superior. The
origin lies close to the nasopharynx roof. Normal anatomy is scaled by ``AnatomySpec.scale``
about the origin; the tumour is a union of spheres placed independently, so its CTV (GTV + 4 mm)
and PTV (CTV + 3 mm) are exact unions of grown spheres.

Organs are simple solids (ellipsoids, elliptic cylinders, capsules, boxes) placed where they sit
in a real head: eyes and lenses anterior, optic nerves running back to the chiasm above the
sella, temporal lobes lateral to the tumour in the middle cranial fossa, brainstem behind the
clivus continuing into the spinal cord, parotids behind the mandibular rami, the mandible a
U-shaped bar in the lower face. CT numbers (HU) are typical values for each tissue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dosimetry.sampledata.shapes import (
    Box,
    Capsule,
    Composite,
    Ellipsoid,
    EllipticCylinder,
    SphereUnion,
)

FloatArray = npt.NDArray[np.float64]

#: Hounsfield units of each tissue class.
HU_AIR = -1000
HU_FAT = -90
HU_SOFT_TISSUE = 45
HU_BRAIN = 32
HU_CSF_CORD = 30
HU_EYE = 10
HU_LENS = 70
HU_PAROTID = 5
HU_TUMOUR = 55
HU_SKULL = 1100
HU_SKULL_BASE = 900
HU_VERTEBRA = 650
HU_MANDIBLE = 1300

#: Nominal tumour (GTV) of the reference patient: three overlapping spheres, LPS mm.
NOMINAL_GTV_LOBES: tuple[tuple[tuple[float, float, float], float], ...] = (
    ((0.0, -14.0, -10.0), 13.5),
    ((7.0, -8.0, -3.0), 8.0),
    ((-6.0, -18.0, -16.0), 9.0),
)


@dataclass(frozen=True)
class AnatomySpec:
    """Parameters of one synthetic patient.

    ``scale`` multiplies all normal-anatomy coordinates about the origin (head size);
    ``tumour_offset_mm`` moves the whole GTV; ``tumour_scale`` multiplies the lobe radii and their
    offsets from the main lobe. Margins are the protocol's: CTV = GTV + 3-5 mm, PTV = CTV + 3 mm.
    """

    scale: float = 1.0
    tumour_offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tumour_scale: float = 1.0
    ctv_margin_mm: float = 4.0
    ptv_margin_mm: float = 3.0
    gtv_lobes: tuple[tuple[tuple[float, float, float], float], ...] = field(default=NOMINAL_GTV_LOBES)

    @property
    def gtv(self) -> SphereUnion:
        main_centre = np.asarray(self.gtv_lobes[0][0])
        centres: list[tuple[float, float, float]] = []
        radii: list[float] = []
        for centre, radius in self.gtv_lobes:
            c = main_centre + self.tumour_scale * (np.asarray(centre) - main_centre) + np.asarray(self.tumour_offset_mm)
            centres.append((float(c[0]), float(c[1]), float(c[2])))
            radii.append(float(radius * self.tumour_scale))
        return SphereUnion(tuple(centres), tuple(radii))

    @property
    def ctv(self) -> SphereUnion:
        return self.gtv.grown(self.ctv_margin_mm)

    @property
    def ptv(self) -> SphereUnion:
        return self.ctv.grown(self.ptv_margin_mm)


@dataclass(frozen=True)
class StructureSpec:
    """One ROI of the phantom: TG-263 name, RT ROI Interpreted Type, display colour and solid."""

    name: str
    interpreted_type: str
    color_rgb: tuple[int, int, int]
    solid: object  # anything with contains(points) -> bool array

    def contains(self, points_mm: FloatArray) -> npt.NDArray[np.bool_]:
        return self.solid.contains(points_mm)  # type: ignore[attr-defined]


def _e(centre: tuple[float, float, float], semi: tuple[float, float, float], s: float) -> Ellipsoid:
    return Ellipsoid(tuple(s * v for v in centre), tuple(s * v for v in semi))  # type: ignore[arg-type]


def _cyl(centre: tuple[float, float], semi: tuple[float, float], z: tuple[float, float], s: float) -> EllipticCylinder:
    return EllipticCylinder(tuple(s * v for v in centre), tuple(s * v for v in semi), tuple(s * v for v in z))  # type: ignore[arg-type]


def _box(lo: tuple[float, float, float], hi: tuple[float, float, float], s: float) -> Box:
    return Box(tuple(s * v for v in lo), tuple(s * v for v in hi))  # type: ignore[arg-type]


def _capsule(a: tuple[float, float, float], b: tuple[float, float, float], r: float, s: float) -> Capsule:
    return Capsule(tuple(s * v for v in a), tuple(s * v for v in b), s * r)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Phantom:
    """Solids of the normal anatomy (scaled) and the targets of one patient."""

    spec: AnatomySpec

    # --- body and bones -------------------------------------------------------------------
    @property
    def head(self) -> Ellipsoid:
        return _e((0.0, 10.0, 20.0), (75.0, 95.0, 100.0), self.spec.scale)

    @property
    def external(self) -> Composite:
        s = self.spec.scale
        return Composite(
            parts=(
                self.head,
                _cyl((0.0, 15.0), (55.0, 60.0), (-400.0, -20.0), s),  # neck
                _e((0.0, -15.0, -55.0), (56.0, 66.0, 36.0), s),  # lower face and jaw
            )
        )

    @property
    def subcutaneous_fat(self) -> Composite:
        s = self.spec.scale
        return Composite(parts=(self.head,), holes=(_e((0.0, 10.0, 20.0), (70.0, 90.0, 95.0), s),))

    @property
    def face_region(self) -> Box:
        """Orbits and nasal cavity: no cranial vault there."""
        return _box((-200.0, -200.0, -400.0), (200.0, -30.0, 26.0), self.spec.scale)

    @property
    def skull(self) -> Composite:
        s = self.spec.scale
        return Composite(
            parts=(_e((0.0, 10.0, 20.0), (69.0, 89.0, 94.0), s),),
            holes=(
                _e((0.0, 10.0, 20.0), (62.0, 82.0, 87.0), s),
                _box((-200.0, -200.0, -400.0), (200.0, 200.0, -10.0), s),
                self.face_region,
            ),
        )

    @property
    def brain_region(self) -> Composite:
        s = self.spec.scale
        return Composite(
            parts=(_e((0.0, 10.0, 20.0), (62.0, 82.0, 87.0), s),),
            holes=(_box((-200.0, -200.0, -400.0), (200.0, 200.0, -4.0), s), self.face_region),
        )

    @property
    def skull_base(self) -> Composite:
        s = self.spec.scale
        return Composite(
            parts=(_cyl((0.0, 10.0), (60.0, 78.0), (-10.0, -4.0), s),),
            holes=(
                _cyl((0.0, 26.0), (16.0, 16.0), (-400.0, 400.0), s),  # foramen magnum
                _box((-200.0, -200.0, -400.0), (200.0, -40.0, 400.0), s),  # nasal cavity in front
            ),
        )

    @property
    def vertebrae(self) -> Composite:
        s = self.spec.scale
        return Composite(
            parts=(
                _cyl((0.0, 12.0), (12.0, 12.0), (-400.0, -14.0), s),  # vertebral bodies
                _cyl((0.0, 33.0), (13.0, 13.0), (-400.0, -16.0), s),  # posterior arch
            ),
            holes=(_cyl((0.0, 33.0), (7.5, 7.5), (-400.0, 400.0), s),),  # spinal canal
        )

    @property
    def airways(self) -> Composite:
        s = self.spec.scale
        return Composite(
            parts=(
                _cyl((0.0, -34.0), (10.0, 6.0), (-32.0, -8.0), s),  # nasopharyngeal lumen
                _cyl((0.0, -20.0), (12.0, 7.0), (-400.0, -32.0), s),  # oropharynx
                _e((27.0, -52.0, -18.0), (12.0, 14.0, 15.0), s),  # maxillary sinuses
                _e((-27.0, -52.0, -18.0), (12.0, 14.0, 15.0), s),
            )
        )

    # --- organs at risk -------------------------------------------------------------------
    def organs(self) -> tuple[StructureSpec, ...]:
        s = self.spec.scale
        mandible_body = Composite(
            parts=(_cyl((0.0, -8.0), (50.0, 62.0), (-68.0, -50.0), s),),
            holes=(_cyl((0.0, -8.0), (42.0, 54.0), (-400.0, 400.0), s), _box((-200.0, -8.0, -400.0), (200.0, 200.0, 400.0), s)),
        )
        mandible = Composite(
            parts=(
                mandible_body,
                _box((40.0, -16.0, -68.0), (48.0, -2.0, -22.0), s),
                _box((-48.0, -16.0, -68.0), (-40.0, -2.0, -22.0), s),
            )
        )
        return (
            StructureSpec("BrainStem", "ORGAN", (0, 200, 200), _e((0.0, 26.0, 10.0), (13.0, 12.0, 30.0), s)),
            StructureSpec("SpinalCord", "ORGAN", (255, 255, 0), _capsule((0.0, 33.0, -400.0), (0.0, 29.0, -16.0), 5.0, s)),
            StructureSpec("OpticChiasm", "ORGAN", (255, 128, 0), _e((0.0, -10.0, 16.0), (12.0, 6.0, 3.5), s)),
            StructureSpec("OpticNrv_L", "ORGAN", (255, 200, 0), _capsule((30.0, -46.0, 14.0), (9.0, -13.0, 16.0), 2.8, s)),
            StructureSpec("OpticNrv_R", "ORGAN", (255, 200, 0), _capsule((-30.0, -46.0, 14.0), (-9.0, -13.0, 16.0), 2.8, s)),
            StructureSpec("Lobe_Temporal_L", "ORGAN", (150, 100, 255), _e((40.0, 0.0, 14.0), (17.0, 30.0, 18.0), s)),
            StructureSpec("Lobe_Temporal_R", "ORGAN", (100, 150, 255), _e((-40.0, 0.0, 14.0), (17.0, 30.0, 18.0), s)),
            StructureSpec("Eye_L", "ORGAN", (0, 150, 255), _e((32.0, -58.0, 14.0), (12.0, 12.0, 12.0), s)),
            StructureSpec("Eye_R", "ORGAN", (0, 150, 255), _e((-32.0, -58.0, 14.0), (12.0, 12.0, 12.0), s)),
            StructureSpec("Lens_L", "ORGAN", (200, 255, 255), _e((32.0, -66.0, 14.0), (4.5, 3.0, 4.5), s)),
            StructureSpec("Lens_R", "ORGAN", (200, 255, 255), _e((-32.0, -66.0, 14.0), (4.5, 3.0, 4.5), s)),
            StructureSpec("Parotid_L", "ORGAN", (0, 255, 100), _e((50.0, 18.0, -32.0), (11.0, 17.0, 20.0), s)),
            StructureSpec("Parotid_R", "ORGAN", (0, 255, 100), _e((-50.0, 18.0, -32.0), (11.0, 17.0, 20.0), s)),
            StructureSpec("Mandible", "ORGAN", (255, 255, 200), mandible),
        )

    def targets(self) -> tuple[StructureSpec, ...]:
        return (
            StructureSpec("GTV", "GTV", (255, 0, 0), self.spec.gtv),
            StructureSpec("CTV", "CTV", (255, 0, 255), self.spec.ctv),
            StructureSpec("PTV", "PTV", (0, 0, 255), self.spec.ptv),
        )

    def structures(self) -> tuple[StructureSpec, ...]:
        """External, the targets and the organs at risk of the current course."""
        return (StructureSpec("External", "EXTERNAL", (0, 255, 0), self.external), *self.targets(), *self.organs())

    def hounsfield_units(self, points_mm: FloatArray) -> npt.NDArray[np.int16]:
        """CT numbers at ``points_mm`` (..., 3): tissues painted in order, later ones on top."""
        organs = {o.name: o for o in self.organs()}
        hu = np.full(np.asarray(points_mm).shape[:-1], HU_AIR, dtype=np.int16)
        layers: tuple[tuple[object, int], ...] = (
            (self.external, HU_SOFT_TISSUE),
            (self.subcutaneous_fat, HU_FAT),
            (self.brain_region, HU_BRAIN),
            (self.skull, HU_SKULL),
            (self.skull_base, HU_SKULL_BASE),
            (self.vertebrae, HU_VERTEBRA),
            (organs["SpinalCord"].solid, HU_CSF_CORD),
            (organs["Mandible"].solid, HU_MANDIBLE),
            (organs["Parotid_L"].solid, HU_PAROTID),
            (organs["Parotid_R"].solid, HU_PAROTID),
            (organs["Eye_L"].solid, HU_EYE),
            (organs["Eye_R"].solid, HU_EYE),
            (organs["Lens_L"].solid, HU_LENS),
            (organs["Lens_R"].solid, HU_LENS),
            (self.airways, HU_AIR),
            (self.spec.gtv, HU_TUMOUR),  # the recurrence erodes the skull base
        )
        for solid, value in layers:
            hu[solid.contains(points_mm)] = value  # type: ignore[attr-defined]
        return hu


def prior_targets(spec: AnatomySpec) -> tuple[StructureSpec, ...]:
    """Targets of the prior photon course (primary tumour and elective neck), anatomy frame.

    PTV_7000 covers the original primary in the nasopharynx; PTV_5600 the retropharyngeal and
    bilateral neck nodes (levels II-V) down to the lower neck. Both scale with the head.
    """
    s = spec.scale
    gtvp = SphereUnion(((0.0, -16.0 * s, -14.0 * s),), (14.0 * s,))
    ptv70 = SphereUnion(((0.0, -16.0 * s, -14.0 * s), (0.0, -6.0 * s, -4.0 * s)), (25.0 * s, 15.0 * s))
    neck = Composite(
        parts=(
            _capsule((30.0, 8.0, -30.0), (34.0, 10.0, -88.0), 15.0, s),
            _capsule((-30.0, 8.0, -30.0), (-34.0, 10.0, -88.0), 15.0, s),
            _capsule((-12.0, 0.0, -20.0), (12.0, 0.0, -20.0), 9.0, s),  # retropharyngeal nodes
        )
    )
    return (
        StructureSpec("GTVp", "GTV", (255, 0, 0), gtvp),
        StructureSpec("PTV_7000", "PTV", (0, 0, 255), ptv70),
        StructureSpec("PTV_5600", "PTV", (0, 128, 255), neck),
    )
