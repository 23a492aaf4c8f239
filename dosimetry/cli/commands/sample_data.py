"""dosimetry sample-data: write the synthetic sample patient or a synthetic cohort.

Without --patients it (re)generates the committed reference patient patient01 into
DIR/patient01 (default DIR: sample_data; byte-identical for the default seed), replacing an
earlier output of the generator there:  dosimetry sample-data
With --patients N it writes a cohort DIR/NPC001 ... DIR/NPCnnn spread over the protocol's six
dose levels, plus DIR/outcomes.csv drawn from the documented dose-response model
(dosimetry.sampledata.outcomes; see sample_data/README.md):
    dosimetry sample-data --patients 24 --out /tmp/cohort --seed 7
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dosimetry.sampledata.patient import GeneratedPatient

DEFAULT_SEED = 2026


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "sample-data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--patients",
        type=int,
        default=None,
        metavar="N",
        help="number of cohort patients; omit to write the reference patient patient01",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: sample_data for patient01; required with --patients)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--overwrite", action="store_true", help="replace cohort patients and outcomes.csv already generated in DIR")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(handler=run)


def _summary(patient: GeneratedPatient) -> dict[str, object]:
    spec = patient.spec
    return {
        "patient_id": spec.patient_id,
        "folder": str(patient.folder),
        "dose_level": spec.dose_level,
        "fractions": spec.fractions,
        "prescription_gye": spec.prescription_gy,
        "current_dose": str(patient.current.dose),
        "prior_dose": str(patient.prior.dose),
        "registration": str(patient.prior.registration),
    }


def run(args: argparse.Namespace) -> int:
    import json

    from dosimetry.errors import ArgumentError
    from dosimetry.sampledata.cohort import generate_cohort
    from dosimetry.sampledata.patient import generate_patient, reference_patient_spec

    if args.patients is None:
        out = args.out if args.out is not None else Path("sample_data")
        # Regenerating the reference patient replaces an earlier generator output (a folder
        # holding anything else is refused by generate_patient).
        patients = [generate_patient(reference_patient_spec(args.seed), out, overwrite=True)]
        outcomes_csv = None
    else:
        if args.out is None:
            raise ArgumentError("--out DIR is required with --patients")
        cohort = generate_cohort(args.patients, args.out, seed=args.seed, overwrite=args.overwrite)
        patients = list(cohort.patients)
        outcomes_csv = cohort.outcomes_csv
    if args.json:
        print(
            json.dumps(
                {
                    "seed": args.seed,
                    "patients": [_summary(p) for p in patients],
                    "outcomes_csv": str(outcomes_csv) if outcomes_csv else None,
                },
                indent=2,
            )
        )
    else:
        for p in patients:
            s = p.spec
            print(f"{s.patient_id}: {p.folder} (dose level {s.dose_level}: {s.fractions} x 2.5 GyE = {s.prescription_gy:g} GyE)")
        if outcomes_csv:
            print(f"outcomes: {outcomes_csv}")
    return 0
