"""Write the synthetic RT Ion Plan (carbon) and RT Plan (photon IMRT) of the sample patients.

Only what a planning system's export carries for dosimetric analysis is modelled: beams with
their gantry angles and isocentre, a fraction group with the number of fractions and each beam's
Beam Dose, a Dose Reference (target prescription), the referenced structure set and an approved
status. Control points are minimal (start and end of each beam).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dosimetry.io.rtdose_writer import (
    RT_ION_PLAN_STORAGE,
    RT_PLAN_STORAGE,
    DicomIdentity,
    apply_identity,
    ds_str,
    new_file_dataset,
    save_dataset,
)
from dosimetry.sampledata.structure_writer import RT_STRUCTURE_SET_STORAGE


@dataclass(frozen=True)
class PlanBeam:
    """One beam: number, name, gantry angle, couch angle and Beam Dose per fraction (Gy)."""

    number: int
    name: str
    gantry_deg: float
    dose_per_fraction_gy: float
    couch_deg: float = 0.0


@dataclass(frozen=True)
class PlanContent:
    """Everything the plan file says about the treatment."""

    sop_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    label: str
    name: str
    description: str
    plan_date: str
    plan_time: str
    fractions_planned: int
    prescription_gy: float
    target_roi_number: int
    target_description: str
    dose_reference_uid: str
    isocentre_mm: tuple[float, float, float]
    beams: tuple[PlanBeam, ...]
    structure_set_uid: str
    reviewer_name: str = "Physician^Synthetic"


def _common(ds: Dataset, plan: PlanContent, identity: DicomIdentity) -> None:
    apply_identity(ds, identity)
    ds.InstanceCreationDate = plan.plan_date
    ds.InstanceCreationTime = plan.plan_time
    ds.Modality = "RTPLAN"
    ds.SeriesInstanceUID = plan.series_instance_uid
    ds.SeriesNumber = 1
    ds.SeriesDescription = plan.description
    ds.SeriesDate = plan.plan_date
    ds.SeriesTime = plan.plan_time
    ds.FrameOfReferenceUID = plan.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.InstanceNumber = 1
    ds.RTPlanLabel = plan.label
    ds.RTPlanName = plan.name
    ds.RTPlanDescription = plan.description
    ds.RTPlanDate = plan.plan_date
    ds.RTPlanTime = plan.plan_time
    ds.RTPlanGeometry = "PATIENT"
    ds.PlanIntent = "CURATIVE"
    ref_ss = Dataset()
    ref_ss.ReferencedSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ref_ss.ReferencedSOPInstanceUID = plan.structure_set_uid
    ds.ReferencedStructureSetSequence = Sequence([ref_ss])

    dose_ref = Dataset()
    dose_ref.DoseReferenceNumber = 1
    dose_ref.DoseReferenceUID = plan.dose_reference_uid
    dose_ref.DoseReferenceStructureType = "VOLUME"
    dose_ref.DoseReferenceDescription = plan.target_description
    dose_ref.ReferencedROINumber = plan.target_roi_number
    dose_ref.DoseReferenceType = "TARGET"
    dose_ref.DeliveryMaximumDose = ds_str(round(plan.prescription_gy * 1.07, 4))
    dose_ref.TargetPrescriptionDose = ds_str(plan.prescription_gy)
    dose_ref.TargetMinimumDose = ds_str(round(plan.prescription_gy * 0.95, 4))
    ds.DoseReferenceSequence = Sequence([dose_ref])

    group = Dataset()
    group.FractionGroupNumber = 1
    group.NumberOfFractionsPlanned = plan.fractions_planned
    group.NumberOfBeams = len(plan.beams)
    group.NumberOfBrachyApplicationSetups = 0
    refs = Sequence()
    for beam in plan.beams:
        ref = Dataset()
        ref.ReferencedBeamNumber = beam.number
        ref.BeamDose = ds_str(beam.dose_per_fraction_gy)
        ref.BeamDoseSpecificationPoint = [ds_str(v) for v in plan.isocentre_mm]
        ref.BeamMeterset = ds_str(_meterset(beam, ion=ds.SOPClassUID == RT_ION_PLAN_STORAGE))
        refs.append(ref)
    group.ReferencedBeamSequence = refs
    ds.FractionGroupSequence = Sequence([group])

    setup = Dataset()
    setup.PatientSetupNumber = 1
    setup.PatientPosition = "HFS"
    setup.SetupTechnique = "ISOCENTRIC"
    ds.PatientSetupSequence = Sequence([setup])
    ds.ApprovalStatus = "APPROVED"
    ds.ReviewDate = plan.plan_date
    ds.ReviewTime = plan.plan_time
    ds.ReviewerName = plan.reviewer_name


def _meterset(beam: PlanBeam, *, ion: bool) -> float:
    """Synthetic meterset: particles (x 1e9) for ions, MU for photons, proportional to dose."""
    return round(beam.dose_per_fraction_gy * (1.2e1 if ion else 1.45e2), 3)


def write_ion_plan(plan: PlanContent, path: Path, *, identity: DicomIdentity) -> str:
    """Write a carbon-ion RT Ion Plan (scanned beams, 12C6+); returns its SOP Instance UID."""
    ds = new_file_dataset(RT_ION_PLAN_STORAGE, plan.sop_instance_uid)
    _common(ds, plan, identity)
    beams = Sequence()
    for beam in plan.beams:
        b = Dataset()
        b.BeamNumber = beam.number
        b.BeamName = beam.name
        b.BeamDescription = f"carbon ion, gantry {beam.gantry_deg:g} deg"
        b.BeamType = "STATIC"
        b.RadiationType = "ION"
        b.RadiationMassNumber = 12
        b.RadiationAtomicNumber = 6
        b.RadiationChargeState = 6
        b.ScanMode = "MODULATED"
        b.TreatmentMachineName = "IONTR1"
        b.Manufacturer = identity.manufacturer
        b.PrimaryDosimeterUnit = "NP"
        b.VirtualSourceAxisDistances = [6700.0, 7500.0]
        b.TreatmentDeliveryType = "TREATMENT"
        b.NumberOfWedges = 0
        b.NumberOfCompensators = 0
        b.NumberOfBoli = 0
        b.NumberOfBlocks = 0
        b.NumberOfRangeShifters = 0
        b.NumberOfLateralSpreadingDevices = 0
        b.NumberOfRangeModulators = 0
        b.PatientSupportType = "TABLE"
        b.ReferencedPatientSetupNumber = 1
        b.FinalCumulativeMetersetWeight = "1"
        b.NumberOfControlPoints = 2
        points = Sequence()
        spots = np.array([[-10.0, -10.0], [10.0, -10.0], [-10.0, 10.0], [10.0, 10.0]])
        for index, (weight, energy) in enumerate(((0.0, 280.0), (1.0, 280.0))):
            cp = Dataset()
            cp.ControlPointIndex = index
            cp.CumulativeMetersetWeight = ds_str(weight)
            cp.NominalBeamEnergy = ds_str(energy)
            cp.NominalBeamEnergyUnit = "MEV"
            if index == 0:
                cp.GantryAngle = ds_str(beam.gantry_deg)
                cp.GantryRotationDirection = "NONE"
                cp.BeamLimitingDeviceAngle = "0"
                cp.BeamLimitingDeviceRotationDirection = "NONE"
                cp.PatientSupportAngle = ds_str(beam.couch_deg)
                cp.PatientSupportRotationDirection = "NONE"
                cp.TableTopPitchAngle = 0.0
                cp.TableTopPitchRotationDirection = "NONE"
                cp.TableTopRollAngle = 0.0
                cp.TableTopRollRotationDirection = "NONE"
                cp.IsocenterPosition = [ds_str(v) for v in plan.isocentre_mm]
                cp.SnoutPosition = 300.0
                cp.ScanSpotTuneID = "3.0"
                cp.NumberOfScanSpotPositions = len(spots)
                cp.ScanSpotPositionMap = [float(v) for v in spots.ravel()]
                cp.ScanSpotMetersetWeights = [0.25] * len(spots)
                cp.ScanningSpotSize = [6.0, 6.0]
                cp.NumberOfPaintings = 1
            else:
                cp.ScanSpotTuneID = "3.0"
                cp.NumberOfScanSpotPositions = len(spots)
                cp.ScanSpotPositionMap = [float(v) for v in spots.ravel()]
                cp.ScanSpotMetersetWeights = [0.0] * len(spots)
                cp.ScanningSpotSize = [6.0, 6.0]
                cp.NumberOfPaintings = 1
            points.append(cp)
        b.IonControlPointSequence = points
        beams.append(b)
    ds.IonBeamSequence = beams
    save_dataset(ds, path)
    return plan.sop_instance_uid


#: Step-and-shoot segments per photon IMRT beam (the MLC opening shrinks from segment to segment).
IMRT_SEGMENTS = 3


def write_photon_plan(plan: PlanContent, path: Path, *, identity: DicomIdentity) -> str:
    """Write a 6 MV step-and-shoot IMRT RT Plan; returns its SOP Instance UID."""
    ds = new_file_dataset(RT_PLAN_STORAGE, plan.sop_instance_uid)
    _common(ds, plan, identity)
    leaf_pairs = 10
    boundaries = [ds_str(v) for v in np.linspace(-100.0, 100.0, leaf_pairs + 1)]
    beams = Sequence()
    for beam in plan.beams:
        b = Dataset()
        b.BeamNumber = beam.number
        b.BeamName = beam.name
        b.BeamDescription = f"6 MV IMRT, gantry {beam.gantry_deg:g} deg"
        b.BeamType = "STATIC"
        b.RadiationType = "PHOTON"
        b.TreatmentMachineName = "LINAC1"
        b.Manufacturer = identity.manufacturer
        b.PrimaryDosimeterUnit = "MU"
        b.SourceAxisDistance = "1000"
        devices = Sequence()
        for kind, pairs in (("ASYMX", 1), ("ASYMY", 1), ("MLCX", leaf_pairs)):
            dev = Dataset()
            dev.RTBeamLimitingDeviceType = kind
            dev.NumberOfLeafJawPairs = pairs
            if kind == "MLCX":
                dev.LeafPositionBoundaries = boundaries
            devices.append(dev)
        b.BeamLimitingDeviceSequence = devices
        b.TreatmentDeliveryType = "TREATMENT"
        b.NumberOfWedges = 0
        b.NumberOfCompensators = 0
        b.NumberOfBoli = 0
        b.NumberOfBlocks = 0
        b.ReferencedPatientSetupNumber = 1
        b.FinalCumulativeMetersetWeight = "1"
        # step and shoot: IMRT_SEGMENTS segments, each a pair of control points (start and end of the
        # segment's meterset weight); the MLC opening changes at the start of each segment
        b.NumberOfControlPoints = 2 * IMRT_SEGMENTS
        points = Sequence()
        for index in range(2 * IMRT_SEGMENTS):
            segment, end = divmod(index, 2)
            cp = Dataset()
            cp.ControlPointIndex = index
            cp.CumulativeMetersetWeight = ds_str(round((segment + end) / IMRT_SEGMENTS, 6))
            if index > 0 and not end:
                half_width = 55.0 - 15.0 * segment
                pos = Dataset()
                pos.RTBeamLimitingDeviceType = "MLCX"
                pos.LeafJawPositions = [ds_str(v) for v in [-half_width] * leaf_pairs + [half_width] * leaf_pairs]
                cp.BeamLimitingDevicePositionSequence = Sequence([pos])
            if index == 0:
                cp.NominalBeamEnergy = "6"
                cp.GantryAngle = ds_str(beam.gantry_deg)
                cp.GantryRotationDirection = "NONE"
                cp.BeamLimitingDeviceAngle = "0"
                cp.BeamLimitingDeviceRotationDirection = "NONE"
                cp.PatientSupportAngle = ds_str(beam.couch_deg)
                cp.PatientSupportRotationDirection = "NONE"
                cp.TableTopEccentricAngle = "0"
                cp.TableTopEccentricRotationDirection = "NONE"
                cp.IsocenterPosition = [ds_str(v) for v in plan.isocentre_mm]
                positions = Sequence()
                for kind, values in (
                    ("ASYMX", [-60.0, 60.0]),
                    ("ASYMY", [-90.0, 70.0]),
                    ("MLCX", [-55.0] * leaf_pairs + [55.0] * leaf_pairs),
                ):
                    pos = Dataset()
                    pos.RTBeamLimitingDeviceType = kind
                    pos.LeafJawPositions = [ds_str(v) for v in values]
                    positions.append(pos)
                cp.BeamLimitingDevicePositionSequence = positions
            points.append(cp)
        b.ControlPointSequence = points
        beams.append(b)
    ds.BeamSequence = beams
    save_dataset(ds, path)
    return plan.sop_instance_uid
