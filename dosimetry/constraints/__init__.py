"""Constraint checks: Emami 1991 tolerance limits, Burman 1991 LKB NTCP and user protocols.

Modules: :mod:`.tables` (published tables), :mod:`.naming` (ROI names to organs),
:mod:`.samples` (per-organ dose samples of the Emami rule and the NTCP), :mod:`.ntcp` (gEUD and LKB
NTCP), :mod:`.partial_volume` (Kutcher-Burman effective volume pass/fail rule), :mod:`.metrics`
(constraints ``<metric> <op> <limit>``; the metric grammar and values are the DVH engine's,
:mod:`dosimetry.dvh.metrics`), :mod:`.protocol` (user protocol files), :mod:`.evaluate` (patient
reports on per-ROI DVHs).
"""

from dosimetry.constraints.evaluate import (
    ConstraintReport,
    DoseSummary,
    EndpointResult,
    OrganExtent,
    OrganResult,
    ProtocolResult,
    evaluate,
    evaluate_organ,
    evaluate_protocol,
    summarise,
)
from dosimetry.constraints.metrics import (
    Constraint,
    Metric,
    parse_constraint,
    parse_constraint_metric,
)
from dosimetry.constraints.naming import (
    Laterality,
    NameMapper,
    RoiCategory,
    RoiMapping,
    load_name_mapping,
)
from dosimetry.constraints.ntcp import (
    NTCP_FLAG_THRESHOLD,
    NtcpResult,
    evaluate_ntcp,
    geud_gy,
    lkb_ntcp,
)
from dosimetry.constraints.partial_volume import (
    Status,
    ToleranceDecision,
    decide,
    effective_volume,
    interpolate_tolerance,
)
from dosimetry.constraints.protocol import (
    Protocol,
    ProtocolConstraint,
    load_protocol,
    parse_protocol_text,
)
from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.constraints.tables import (
    BurmanTable,
    EmamiTable,
    LkbParameters,
    Organ,
    ToleranceEntry,
    VolumeAxis,
    load_burman,
    load_emami,
)
from dosimetry.quantities import DoseBasis

__all__ = [
    "BurmanTable", "Constraint", "ConstraintReport", "OrganDoseBins", "DoseSummary", "EmamiTable",
    "EndpointResult", "Laterality", "LkbParameters", "Metric", "NTCP_FLAG_THRESHOLD", "NameMapper",
    "NtcpResult", "Organ", "OrganExtent", "OrganResult", "Protocol", "ProtocolConstraint",
    "ProtocolResult", "DoseBasis", "RoiCategory", "RoiMapping", "Status", "ToleranceDecision",
    "ToleranceEntry", "VolumeAxis", "decide", "effective_volume", "evaluate", "evaluate_ntcp",
    "evaluate_organ", "evaluate_protocol", "geud_gy", "interpolate_tolerance", "lkb_ntcp",
    "load_burman", "load_emami", "load_name_mapping", "load_protocol", "parse_constraint",
    "parse_constraint_metric", "parse_protocol_text", "summarise",
]
