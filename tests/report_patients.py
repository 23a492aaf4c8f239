"""A small two-course patient for report and batch tests (tests/dicom_factory.py files, no CT).

Current course: an RT Ion Plan (22 fractions of 1 GyE), an EFFECTIVE RT Dose of 5 GyE everywhere
and 22 GyE in a box holding the PTV; prior course: a photon plan and 10 Gy everywhere. No Emami
limit is reached (a pass verdict); the brain stem's cumulative EQD2 is known in closed form.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from tests import dicom_factory as f

SHAPE = (13, 31, 31)  # frames (z 0..30 mm), rows (y -30..30), columns (x -30..30)
POSITION = (-30.0, -30.0, 0.0)
PLANES = [5.0 + 2.5 * k for k in range(9)]


def make_small_patient(root: Path) -> Path:
    """Write the patient into ``root/current`` and ``root/prior``; returns ``root``."""
    current, prior = root / "current", root / "prior"
    current.mkdir(parents=True)
    prior.mkdir()
    ion_uid, photon_uid = f.uid("analyze-ion-plan"), f.uid("analyze-photon-plan")
    f.make_rt_ion_plan(current, fractions=22, dose_per_fraction_gy=1.0, sop_instance_uid=ion_uid)
    dose = np.full(SHAPE, 5.0)
    dose[:, 5:15, 18:28] = 22.0
    f.make_rt_dose(current, shape_frc=SHAPE, position_mm=POSITION, pixel_spacing_mm=(2.0, 2.0), dose_frc_gy=dose,
                   dose_type="EFFECTIVE", referenced_plan_uid=ion_uid, seed="analyze-current-dose")
    rois = [
        f.box_roi(1, "Brain Stem", (-18.0, 0.0), 6.0, PLANES),
        f.box_roi(2, "SpinalCord", (-18.0, 14.0), 3.0, PLANES),
        f.box_roi(3, "PTV", (18.0, -10.0), 6.0, PLANES, interpreted_type="PTV"),
    ]
    f.make_rt_struct(current, rois=rois, seed="analyze-struct")
    f.make_rt_plan(prior, fractions=30, prescription_gy=30.0, sop_instance_uid=photon_uid, seed="analyze-photon")
    f.make_rt_dose(prior, shape_frc=SHAPE, position_mm=POSITION, pixel_spacing_mm=(2.0, 2.0), dose_frc_gy=np.full(SHAPE, 10.0),
                   referenced_plan_uid=photon_uid, seed="analyze-prior-dose")
    # Plan dates four years apart (the prior photon course in 2020, the carbon course in 2024), so the
    # interval-dependent re-irradiation limits are evaluated rather than failing on a zero interval.
    for folder, date in ((prior, "20200106"), (current, "20240108")):
        for path in folder.glob("*.dcm"):
            ds = pydicom.dcmread(path)
            if ds.Modality == "RTPLAN":
                ds.RTPlanDate = date
                ds.save_as(path)
    return root
