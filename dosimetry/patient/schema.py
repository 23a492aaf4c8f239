"""The schema of ``OUT/results.json`` written by ``dosimetry analyze`` (version 1.2), checked with jsonschema.

Versioning: ``schema_version`` is ``"MAJOR.MINOR"``. A MINOR bump only adds optional keys; a MAJOR
bump removes or changes the meaning of a key. Readers should check the MAJOR number.

Top-level keys (all required; doses in Gy, or GyE where the source dose is RBE-weighted; volumes in cc)::

    schema_version   "1.2"   (1.1 adds the optional ``recovery`` and ``verdict`` sections and lets
                              ``parameters.residual`` be null when the recovery model is not one
                              constant residual; 1.2 adds the optional ``parameters.end_cap``)
    software         {name, version}
    generated_utc    ISO 8601 time of the run (UTC)
    parameters       {residual, alpha_beta_late_gy, alpha_beta_tumour_gy, summation_method,
                      dvh_bin_width_gy, dvh_csv_step_gy, protocol, mapping, registration,
                      assume_same_position, folders, register (null|"deformable": computed with
                      --register), registration_margin_mm (null: no registration uncertainty computed),
                      end_cap ("half-slab"|"truncated"|"shape": the DVH end-cap convention of
                      every ROI, dosimetry.dvh.endcaps; optional, added in 1.2)}
    patient          {patient_id, patient_name}           (from the current RT Dose)
    courses          [{label ("current"|"prior"), folder, plan_sop_instance_uid, plan_label,
                       radiation_types[], fractions, dose_per_fraction_gy|null,
                       prescription_dose_gy|null, dose_type, dose_sop_instance_uid,
                       frame_of_reference_uid}]
    alignment        null (no prior course) | {method, transform, registration_source,
                       uncovered_volume_cc, registration_kind ("deformable"|"rigid"|"same-frame"|
                       "transform"|"assumed-same-position": the mapping the cumulative dose used),
                       jacobian_determinant (deformable: {min, p1, median, p99, max, folding_voxels,
                       voxels} of the current -> prior mapping on the current dose grid; else null)}
    dose_levels      {rows: [{level, fractions, dose_per_fraction_gy, total_gy, bed2_gy, bed9_gy,
                       eqd2_2_gy, eqd2_9_gy}], patient_level: int|null, note}
                      (protocol Table 1 recomputed with make_schedules; patient_level is the row
                       matching the current plan's fractionation, null when none does)
    quantities       [{name, description, rois}]   rois: "all" | "targets_and_organs" | "organs"
    rois             [{name, number, interpreted_type, role ("TARGET"|"ORGAN_AT_RISK"|"OTHER"),
                       volume_cc|null, volume_in_dose_grid_cc|null}]   (null: no DVH, see warnings)
    metrics          [{roi, quantity, metric, value, unit}]   (one row per ROI x quantity x metric;
                       the same rows as metrics.csv)
    indices          [{target, quantity, ...}]   TargetIndices.to_dict() of dosimetry.indices plus
                       "quantity"; coverage entries carry the protocol rules (V95% CTV, V90% PTV)
    constraints      {any_fail: bool, quantity, alpha_beta_gy, rows: [{source ("emami"|"protocol"|
                       "reirradiation": the cumulative limits of dosimetry/data/reirradiation_limits.json, 1.1),
                       roi, organ, endpoint, quantity, metric, comparator, limit|null, value|null,
                       unit, status ("PASS"|"FAIL"|"NOT_EVALUABLE"), ntcp|null, reason}]}
    outputs          [{path, kind, description, sop_instance_uid|null}]   relative to OUT
    inputs           [{path, course, modality, sop_class_uid, sop_instance_uid, sha256,
                       size_bytes}]   every input file (non-DICOM files have empty UIDs; a file
                       over the per-file size limit has modality "not read: <reason>" and an
                       empty sha256: it is neither parsed nor hashed)
    registration_uncertainty  null | {margin_mm, mapping, rigid_available, deformable_available,
                       rows: [{source, roi, endpoint, quantity, metric, comparator, limit, value_rigid,
                       value_deformable, value, unit (of limit, values and spread: the constraint row's
                       unit, Gy|%|cc; always written, optional to read: added within 1.1), spread_low,
                       spread_high (over the prior dose shifted by margin_mm along +-x, +-y, +-z), worst_direction, status, verdict ("UNCERTAIN" when
                       the status flips within the spread)}], organs: [{roi, prior_roi, dice_rigid,
                       dice_deformable, mean_surface_distance_rigid_mm, mean_surface_distance_deformable_mm,
                       jacobian_min, folding_voxels, note}], inverse_consistency null | {mean_mm, p95_mm,
                       max_mm}, notes}   (dosimetry.patient.registration_quality; computed with a
                       deformable registration or an explicit margin)
    warnings         [str]
    recovery         (optional; present with a prior course) {model {kind, label, citation, ...},
                      description, per_organ [{key, model}], organ_models [{roi, key, model}],
                      interval null | {months, source, prior, current}, alternatives [model],
                      comparison {quantity, metrics, columns [str], rows [{roi, metric,
                      values_gy [number|null, one per column]}]}, warnings [str],
                      eligibility [{rule, status, value, reason}] (the protocol's rules the
                      DICOM can answer), reirradiation_type null | {type, reason, citation,
                      quantity, threshold_prior_gy, threshold_current_gy, overlap_cc, organs [{roi,
                      volume_cc, overlap_cc, prior_max_gy, current_max_gy}], organs_in_both_courses}}

Optional keys (added in 1.1)::

    verdict          {verdict ("pass"|"violation"|"not_evaluable"), headline, scope (what was summed;
                      "current course only, no prior dose summed" without a prior course),
                      failures: [{kind ("constraint"|"coverage"), subject, check, comparator, value,
                      limit, margin (positive when the check holds), unit, status, value_text,
                      detail}], not_evaluable: [same], warnings: {review: [str], note: [str]}}
                      (:mod:`dosimetry.patient.verdict`)

:data:`RESULTS_SCHEMA` states this as a JSON Schema (draft 2020-12); :func:`validate` checks a
document against it with the jsonschema package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.errors import OutputError
from dosimetry.patient.results import SCHEMA_VERSION

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}


def _obj(properties: Mapping[str, Any], *, extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties),
        "additionalProperties": extra,
    }


def _optional(schema: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``schema`` with ``keys`` no longer required (keys added by a MINOR version)."""
    return schema | {"required": [k for k in schema["required"] if k not in keys]}


def _array(items: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(items)}


_NUM_OR_NULL_ = {"type": ["number", "null"]}
_REGISTRATION_UNCERTAINTY: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "margin_mm": _NUM,
        "mapping": _STR,
        "rigid_available": {"type": "boolean"},
        "deformable_available": {"type": "boolean"},
        "rows": _array(_optional(_obj({
            "source": _STR, "roi": _STR, "endpoint": _STR, "quantity": _STR, "metric": _STR, "comparator": _STR,
            "limit": _NUM_OR_NULL_, "value_rigid": _NUM_OR_NULL_, "value_deformable": _NUM_OR_NULL_, "value": _NUM_OR_NULL_,
            "unit": _STR, "spread_low": _NUM_OR_NULL_, "spread_high": _NUM_OR_NULL_, "worst_direction": _STR_OR_NULL,
            "status": _STR, "verdict": {"enum": ["PASS", "FAIL", "NOT_EVALUABLE", "UNCERTAIN"]},
        }), "unit")),
        "organs": _array(_obj({
            "roi": _STR, "prior_roi": _STR_OR_NULL, "dice_rigid": _NUM_OR_NULL_, "dice_deformable": _NUM_OR_NULL_,
            "mean_surface_distance_rigid_mm": _NUM_OR_NULL_, "mean_surface_distance_deformable_mm": _NUM_OR_NULL_,
            "jacobian_min": _NUM_OR_NULL_, "folding_voxels": _INT_OR_NULL, "note": _STR,
        })),
        "inverse_consistency": {
            "type": ["object", "null"],
            "properties": {"mean_mm": _NUM, "p95_mm": _NUM, "max_mm": _NUM},
            "additionalProperties": False,
        },
        "notes": _array(_STR),
    },
    "required": ["margin_mm", "mapping", "rows", "organs", "inverse_consistency", "notes"],
    "additionalProperties": False,
}

RESULTS_SCHEMA: dict[str, Any] = _obj(
    {
        "schema_version": {"type": "string", "enum": [SCHEMA_VERSION]},
        "software": _obj({"name": _STR, "version": _STR}),
        "generated_utc": _STR,
        "parameters": _optional(_obj(
            {
                "residual": _NUM_OR_NULL,
                "alpha_beta_late_gy": _NUM,
                "alpha_beta_tumour_gy": _NUM,
                "summation_method": _STR,
                "dvh_bin_width_gy": _NUM,
                "dvh_csv_step_gy": _NUM,
                "protocol": _STR_OR_NULL,
                "mapping": _STR_OR_NULL,
                "registration": _STR_OR_NULL,
                "assume_same_position": {"type": "boolean"},
                "folders": _STR,
                "register": {"enum": [None, "deformable"]},
                "registration_margin_mm": _NUM_OR_NULL,
                "end_cap": {"enum": [c.value for c in EndCapConvention]},
            }
        ), "end_cap"),
        "patient": _obj({"patient_id": _STR, "patient_name": _STR}),
        "courses": _array(
            _obj(
                {
                    "label": {"type": "string", "enum": ["current", "prior"]},
                    "folder": _STR,
                    "plan_sop_instance_uid": _STR,
                    "plan_label": _STR,
                    "radiation_types": _array(_STR),
                    "fractions": {"type": "integer"},
                    "dose_per_fraction_gy": _NUM_OR_NULL,
                    "prescription_dose_gy": _NUM_OR_NULL,
                    "dose_type": _STR,
                    "dose_sop_instance_uid": _STR,
                    "frame_of_reference_uid": _STR,
                }
            )
        ),
        "registration_uncertainty": _REGISTRATION_UNCERTAINTY,
        "alignment": {
            "type": ["object", "null"],
            "properties": {
                "method": _STR, "transform": _STR, "registration_source": _STR, "uncovered_volume_cc": _NUM,
                "registration_kind": {"enum": ["deformable", "rigid", "same-frame", "transform", "assumed-same-position"]},
                "jacobian_determinant": {
                    "type": ["object", "null"],
                    "properties": {k: _NUM for k in ("min", "p1", "median", "p99", "max", "folding_voxels", "voxels")},
                    "additionalProperties": False,
                },
            },
            "required": ["method", "transform", "registration_source", "uncovered_volume_cc", "registration_kind", "jacobian_determinant"],
            "additionalProperties": False,
        },
        "dose_levels": _obj(
            {
                "rows": _array(
                    _obj(
                        {
                            "level": {"type": "integer"},
                            "fractions": {"type": "integer"},
                            "dose_per_fraction_gy": _NUM,
                            "total_gy": _NUM,
                            "bed2_gy": _NUM,
                            "bed9_gy": _NUM,
                            "eqd2_2_gy": _NUM,
                            "eqd2_9_gy": _NUM,
                        }
                    )
                ),
                "patient_level": _INT_OR_NULL,
                "note": _STR,
            }
        ),
        "quantities": _array(
            _obj({"name": _STR, "description": _STR, "rois": {"type": "string", "enum": ["all", "targets_and_organs", "organs"]}})
        ),
        "rois": _array(
            _obj(
                {
                    "name": _STR,
                    "number": {"type": "integer"},
                    "interpreted_type": _STR,
                    "role": {"type": "string", "enum": ["TARGET", "ORGAN_AT_RISK", "OTHER"]},
                    "volume_cc": _NUM_OR_NULL,
                    "volume_in_dose_grid_cc": _NUM_OR_NULL,
                }
            )
        ),
        "metrics": _array(_obj({"roi": _STR, "quantity": _STR, "metric": _STR, "value": _NUM, "unit": _STR})),
        "indices": _array(
            {"type": "object", "properties": {"target": _STR, "quantity": _STR}, "required": ["target", "quantity"]}
        ),
        "constraints": _obj(
            {
                "any_fail": {"type": "boolean"},
                "quantity": _STR,
                "alpha_beta_gy": _NUM,
                "rows": _array(
                    _obj(
                        {
                            "source": {"type": "string", "enum": ["emami", "protocol", "reirradiation"]},
                            "roi": _STR,
                            "organ": _STR,
                            "endpoint": _STR,
                            "quantity": _STR,
                            "metric": _STR,
                            "comparator": _STR,
                            "limit": _NUM_OR_NULL,
                            "value": _NUM_OR_NULL,
                            "unit": _STR,
                            "status": {"type": "string", "enum": ["PASS", "FAIL", "NOT_EVALUABLE"]},
                            "ntcp": _NUM_OR_NULL,
                            "reason": _STR,
                            "convention_spread_gy": _NUM_OR_NULL,
                            "convention_sensitive": {"type": "boolean"},
                        }
                    )
                ),
            }
        ),
        "outputs": _array(_obj({"path": _STR, "kind": _STR, "description": _STR, "sop_instance_uid": _STR_OR_NULL})),
        "inputs": _array(
            _obj(
                {
                    "path": _STR,
                    "course": _STR,
                    "modality": _STR,
                    "sop_class_uid": _STR,
                    "sop_instance_uid": _STR,
                    "sha256": _STR,
                    "size_bytes": {"type": "integer"},
                }
            )
        ),
        "warnings": _array(_STR),
    }
)
# optional (older documents have none): ours vs the planning system's DVH Sequence
RESULTS_SCHEMA["properties"]["planning_system"] = _array(
    _obj(
        {
            "roi": _STR,
            "roi_number": {"type": "integer"},
            "quantity": _STR,
            "ours": _NUM_OR_NULL,
            "planning_system": _NUM_OR_NULL,
            "difference": _NUM_OR_NULL,
            "flagged": {"type": "boolean"},
            "note": _STR,
            "best_convention": _STR_OR_NULL,
        }
    )
)


_MODEL = {"type": "object", "properties": {"kind": _STR, "label": _STR, "citation": _STR}, "required": ["kind", "label", "citation"]}

#: The optional ``recovery`` section (later additions go beside these keys).
RESULTS_SCHEMA["properties"]["recovery"] = {
    "type": "object",
    "properties": {
        "model": _MODEL,
        "description": _STR,
        "per_organ": _array({"type": "object", "properties": {"key": _STR, "model": _MODEL}, "required": ["key", "model"]}),
        "organ_models": _array(_obj({"roi": _STR, "key": _STR, "model": _STR})),
        "interval": {"type": ["object", "null"], "properties": {"months": _NUM, "source": _STR}, "required": ["months", "source"]},
        "alternatives": _array(_MODEL),
        "comparison": _obj(
            {
                "quantity": _STR,
                "metrics": _array(_STR),
                "columns": _array(_STR),
                "rows": _array(_obj({"roi": _STR, "metric": _STR, "values_gy": _array(_NUM_OR_NULL)})),
            }
        ),
        "warnings": _array(_STR),
        "reirradiation_type": {
            "type": ["object", "null"],
            "properties": {"type": _STR, "reason": _STR, "overlap_cc": _NUM, "threshold_prior_gy": _NUM, "threshold_current_gy": _NUM},
            "required": ["type", "reason", "overlap_cc", "threshold_prior_gy", "threshold_current_gy"],
        },
        "eligibility": _array(
            _obj({"rule": _STR, "status": {"type": "string", "enum": ["PASS", "FAIL", "NOT_EVALUABLE"]}, "value": _STR, "reason": _STR})
        ),
    },
    "required": ["model", "description", "per_organ", "organ_models", "interval", "alternatives", "comparison", "warnings"],
}


_FINDING = _obj(
    {
        "kind": {"type": "string", "enum": ["constraint", "coverage"]},
        "subject": _STR,
        "check": _STR,
        "comparator": _STR,
        "value": _NUM_OR_NULL,
        "limit": _NUM_OR_NULL,
        "margin": _NUM_OR_NULL,
        "unit": _STR,
        "status": _STR,
        "value_text": _STR,
        "detail": _STR,
    }
)
#: Optional keys (MINOR additions): present in documents this version writes, not required of readers.
RESULTS_SCHEMA["properties"]["verdict"] = _obj(
    {
        "verdict": {"type": "string", "enum": ["pass", "violation", "not_evaluable"]},
        "headline": _STR,
        "scope": _STR,
        "failures": _array(_FINDING),
        "not_evaluable": _array(_FINDING),
        "warnings": _obj({"review": _array(_STR), "note": _array(_STR)}),
    }
)


def schema_errors(instance: Any, schema: Mapping[str, Any] = RESULTS_SCHEMA) -> list[str]:
    """Every way ``instance`` breaks ``schema``, one line each (``$.path: message``), from jsonschema."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{e.json_path}: {e.message}" for e in errors]


def validate(instance: Any, schema: Mapping[str, Any] = RESULTS_SCHEMA) -> None:
    """An :class:`~dosimetry.errors.OutputError` listing the schema errors of ``instance`` (none: returns)."""
    errors = schema_errors(instance, schema)
    if errors:
        shown = "; ".join(errors[:10]) + (f"; ... {len(errors) - 10} more" if len(errors) > 10 else "")
        raise OutputError(f"results document does not follow schema {SCHEMA_VERSION}: {shown}")
