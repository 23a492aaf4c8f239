"""When is a patient's course complete enough to analyse, and which stored files make up its analysis?

The rules follow the references a planning system writes (DICOM PS3.3 RT modules):

* the **current course** is the frame of reference of the most recent RT Dose (latest StudyDate, then
  latest arrival); it is complete when that dose's plan (ReferencedRTPlanSequence), the structure set
  the plan references (ReferencedStructureSetSequence; else the frame's structure set) and every CT
  image the structure set's ContourImageSequence lists (else a CT series of the frame) are stored;
* for a **re-irradiation** (``analysis.reirradiation``), also the most recent RT Dose of another frame
  of reference with its plan (the prior course; its structure set and CT are staged when present, never waited for) and, when the prior frame differs from the current one, a Spatial
  Registration whose Registration Sequence names both frames (unless ``assume_same_position``).

RT Doses written by this package (the node's own maps coming back from a PACS) are never inputs.
Nothing here waits or reads files: :func:`assess` is a pure function of the index records, so the
settling time and the incomplete timeout live in :mod:`dosimetry.node.scheduler`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dosimetry.node.config import AnalysisSettings
from dosimetry.node.objects import ObjectKind, StoredObject


@dataclass(frozen=True)
class Assessment:
    """What is present for one patient, what is missing, and the files of each course folder."""

    patient_id: str
    missing: tuple[str, ...]
    current: tuple[StoredObject, ...] = ()
    prior: tuple[StoredObject, ...] = ()
    plan_uid: str = ""

    @property
    def complete(self) -> bool:
        return not self.missing and bool(self.current)

    @property
    def signature(self) -> str:
        """Identifies the exact set of inputs: the same signature means the same analysis."""
        labelled = [f"current:{u}" for u in sorted(o.sop_instance_uid for o in self.current)]
        labelled += [f"prior:{u}" for u in sorted(o.sop_instance_uid for o in self.prior)]
        return hashlib.sha256("\n".join(labelled).encode()).hexdigest()


def _latest(objects: Iterable[StoredObject]) -> StoredObject | None:
    ordered = sorted(objects, key=lambda o: (o.study_date, o.received_s, o.sop_instance_uid))
    return ordered[-1] if ordered else None


def _course_images(structure_set: StoredObject, objects: Sequence[StoredObject], missing: list[str]) -> list[StoredObject]:
    cts = [o for o in objects if o.kind is ObjectKind.CT]
    by_uid = {o.sop_instance_uid: o for o in cts}
    wanted = structure_set.referenced_image_uids
    if wanted:
        absent = [u for u in wanted if u not in by_uid]
        if absent:
            missing.append(
                f"{len(absent)} of {len(set(wanted))} CT images referenced by RT Structure Set "
                f"{structure_set.sop_instance_uid} (first missing: {absent[0]})"
            )
        series = {by_uid[u].series_instance_uid for u in wanted if u in by_uid}
    else:
        series = set(structure_set.referenced_series_uids)
    images = [o for o in cts if o.series_instance_uid in series] if series else [
        o for o in cts if o.frame_of_reference_uid == structure_set.frame_of_reference_uid
    ]
    if not images and not wanted:
        missing.append(f"CT series of frame of reference {structure_set.frame_of_reference_uid} (structure set "
                       f"{structure_set.sop_instance_uid})")
    return images


def assess(patient_id: str, objects: Sequence[StoredObject], settings: AnalysisSettings) -> Assessment:
    """The :class:`Assessment` of one patient's stored ``objects`` under ``settings``."""
    inputs = [o for o in objects if not o.derived]
    by_uid = {o.sop_instance_uid: o for o in inputs}
    missing: list[str] = []
    dose = _latest(o for o in inputs if o.kind is ObjectKind.RTDOSE)
    if dose is None:
        return Assessment(patient_id, ("RT Dose of the current course (none received)",))
    if not dose.referenced_plan_uids:
        return Assessment(patient_id, (f"RT Dose {dose.sop_instance_uid} references no RT Plan (ReferencedRTPlanSequence)",))
    plan_uid = dose.referenced_plan_uids[0]
    frame = dose.frame_of_reference_uid
    doses = [o for o in inputs if o.kind is ObjectKind.RTDOSE and plan_uid in o.referenced_plan_uids]
    current: list[StoredObject] = list(doses)
    plan = by_uid.get(plan_uid)
    if plan is None or not plan.kind.is_plan:
        missing.append(f"RT Plan {plan_uid} referenced by RT Dose {dose.sop_instance_uid}")
    else:
        current.append(plan)
        if plan.referenced_structure_set_uids:
            rs_uid = plan.referenced_structure_set_uids[0]
            structure_set = by_uid.get(rs_uid)
            if structure_set is None or structure_set.kind is not ObjectKind.RTSTRUCT:
                missing.append(f"RT Structure Set {rs_uid} referenced by RT Plan {plan_uid}")
                structure_set = None
        else:
            structure_set = _latest(o for o in inputs if o.kind is ObjectKind.RTSTRUCT and o.frame_of_reference_uid == frame)
            if structure_set is None:
                missing.append(f"RT Structure Set of frame of reference {frame} (RT Plan {plan_uid} references none)")
        if structure_set is not None:
            current.append(structure_set)
            current += _course_images(structure_set, inputs, missing)
    prior: list[StoredObject] = []
    if settings.reirradiation:
        prior = _prior_course(inputs, by_uid, plan_uid, frame, settings, missing)
    return Assessment(patient_id, tuple(missing), tuple(current), tuple(prior), plan_uid)


def _prior_course(
    inputs: Sequence[StoredObject],
    by_uid: dict[str, StoredObject],
    current_plan_uid: str,
    current_frame: str,
    settings: AnalysisSettings,
    missing: list[str],
) -> list[StoredObject]:
    # Another frame of reference: a superseded version of the current plan (same CT, same frame) is no prior course.
    dose = _latest(
        o for o in inputs
        if o.kind is ObjectKind.RTDOSE and o.frame_of_reference_uid != current_frame and current_plan_uid not in o.referenced_plan_uids
    )
    if dose is None:
        missing.append(
            "prior course RT Dose in another frame of reference (analysis.reirradiation is set; none received or archived)"
        )
        return []
    if not dose.referenced_plan_uids:
        missing.append(f"prior RT Dose {dose.sop_instance_uid} references no RT Plan (ReferencedRTPlanSequence)")
        return []
    plan_uid = dose.referenced_plan_uids[0]
    prior = [o for o in inputs if o.kind is ObjectKind.RTDOSE and plan_uid in o.referenced_plan_uids]
    plan = by_uid.get(plan_uid)
    if plan is None or not plan.kind.is_plan:
        missing.append(f"prior RT Plan {plan_uid} referenced by RT Dose {dose.sop_instance_uid}")
    else:
        prior.append(plan)
        # The prior structure set and CT are not needed for the analysis, but staged when present so the
        # prior folder is the one a planning system exports (no "referenced file not found" warnings).
        for rs_uid in plan.referenced_structure_set_uids[:1]:
            structure_set = by_uid.get(rs_uid)
            if structure_set is not None and structure_set.kind is ObjectKind.RTSTRUCT:
                prior.append(structure_set)
                prior += _course_images(structure_set, inputs, [])
    frame = dose.frame_of_reference_uid
    if frame != current_frame and not settings.assume_same_position:
        links = [
            o for o in inputs
            if o.kind is ObjectKind.REG and {frame, current_frame} <= {*o.registered_frames, o.frame_of_reference_uid}
        ]
        registration = _latest(links)
        if registration is None:
            missing.append(f"Spatial Registration linking the prior frame of reference {frame} to the current {current_frame}")
        else:
            prior.append(registration)
    return prior
