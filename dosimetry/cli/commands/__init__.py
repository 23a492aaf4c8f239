"""One module per sub-command; each defines ``register(subparsers)``.

:data:`COMMANDS` is the table of the sub-commands and their one-line help, in the order that
``dosimetry --help`` lists them. The top-level parser (:mod:`dosimetry.cli.main`) is built from this
table alone and imports the module of a sub-command (``rbe-convert`` is :mod:`.rbe_convert`) only
when the command line names it. A new sub-command is a new module here plus a row of the table
(``tests/test_cli_lazy_parser.py`` checks that they match).
"""

COMMANDS: dict[str, str] = {
    "accumulate": "cumulative EQD2 of the current and a prior course (residual discount)",
    "analyze": "full analysis of one patient: maps, DVH metrics, indices, constraints, HTML report",
    "batch": "analyse every patient under a folder (process pool or Dask cluster), resumable",
    "bed": "voxel-wise BED or EQD2 of an RT Dose, exported as RT Dose",
    "check": "check organs at risk on the cumulative EQD2 against Emami 1991, LKB NTCP and a protocol",
    "constraints": "print the Emami 1991 tolerance table or the Burman 1991 LKB parameters",
    "correlate": "correlate a binary outcome with every dosimetric metric of a batch output (logistic regression, AUC)",
    "dvh": "DVH metrics of structures on an RT Dose (exact partial volumes, TG-263 metrics)",
    "indices": "conformity (RTOG, Paddick, van't Riet, Lomax-Scheib), gradient, homogeneity and coverage indices",
    "inspect": "summarise the DICOM objects in a folder or file: patients, courses, plans, doses, structures, registrations",
    "rbe-convert": "convert a carbon-ion RBE-weighted dose between LEM-I and MKM (dose-per-fraction dependent)",
    "sample-data": "write the synthetic sample patient or a synthetic cohort (DICOM + outcomes.csv)",
    "schedule": "BED and EQD2 of fractionation schedules",
    "serve": "DICOM node: receive plans by C-STORE, analyse complete courses, send the maps back",
    "trial": "TITE-CRM next dose and simulation, end-of-trial logistic estimate, phase II design",
}


def module_name(command: str) -> str:
    """The module of :mod:`dosimetry.cli.commands` that registers ``command``."""
    return f"{__name__}.{command.replace('-', '_')}"
