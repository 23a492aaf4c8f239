"""The schema of ``OUT/results.json`` written by ``dosimetry analyze`` (version 1.0), and a validator.

Versioning: ``schema_version`` is ``"MAJOR.MINOR"``. A MINOR bump only adds optional keys; a MAJOR
bump removes or changes the meaning of a key. Readers should check the MAJOR number.

Top-level keys (all required; doses in Gy, or GyE where the source dose is RBE-weighted; volumes in cc)::

    schema_version   "1.0"
    software         {name, version}
    generated_utc    ISO 8601 time of the run (UTC)
    parameters       {residual, alpha_beta_late_gy, alpha_beta_tumour_gy, summation_method,
                      dvh_bin_width_gy, dvh_csv_step_gy, protocol, mapping, registration,
                      assume_same_position, folders}
    patient          {patient_id, patient_name}           (from the current RT Dose)
    courses          [{label ("current"|"prior"), folder, plan_sop_instance_uid, plan_label,
                       radiation_types[], fractions, dose_per_fraction_gy|null,
                       prescription_dose_gy|null, dose_type, dose_sop_instance_uid,
                       frame_of_reference_uid}]
    alignment        null (no prior course) | {method, transform, registration_source,
                       uncovered_volume_cc}
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
    constraints      {any_fail: bool, quantity, alpha_beta_gy, rows: [{source ("emami"|"protocol"),
                       roi, organ, endpoint, quantity, metric, comparator, limit|null, value|null,
                       unit, status ("PASS"|"FAIL"|"NOT_EVALUABLE"), ntcp|null, reason}]}
    outputs          [{path, kind, description, sop_instance_uid|null}]   relative to OUT
    inputs           [{path, course, modality, sop_class_uid, sop_instance_uid, sha256,
                       size_bytes}]   every input file (non-DICOM files have empty UIDs)
    warnings         [str]

:data:`RESULTS_SCHEMA` states this as a JSON Schema (draft 2020-12 subset: type, properties,
required, items, enum, additionalProperties); :func:`validate` checks a document against it
without third-party packages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dosimetry.errors import OutputError

SCHEMA_VERSION = "1.0"

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


def _array(items: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(items)}


RESULTS_SCHEMA: dict[str, Any] = _obj(
    {
        "schema_version": {"type": "string", "enum": [SCHEMA_VERSION]},
        "software": _obj({"name": _STR, "version": _STR}),
        "generated_utc": _STR,
        "parameters": _obj(
            {
                "residual": _NUM,
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
            }
        ),
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
        "alignment": {
            "type": ["object", "null"],
            "properties": {"method": _STR, "transform": _STR, "registration_source": _STR, "uncovered_volume_cc": _NUM},
            "required": ["method", "transform", "registration_source", "uncovered_volume_cc"],
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
                            "source": {"type": "string", "enum": ["emami", "protocol"]},
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


def _type_ok(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise OutputError(f"results schema uses an unknown type {name!r}")


def schema_errors(instance: Any, schema: Mapping[str, Any] = RESULTS_SCHEMA, path: str = "$") -> list[str]:
    """Every violation of ``schema`` by ``instance`` as ``"<JSON path>: <problem>"`` (empty when valid)."""
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(instance, n) for n in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(instance).__name__}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{path}: missing required key {key!r}")
        for key, value in instance.items():
            if key in properties:
                errors.extend(schema_errors(value, properties[key], f"{path}.{key}"))
            elif schema.get("additionalProperties", True) is False:
                errors.append(f"{path}: unexpected key {key!r}")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            errors.extend(schema_errors(item, schema["items"], f"{path}[{i}]"))
    return errors


def validate(instance: Any, schema: Mapping[str, Any] = RESULTS_SCHEMA) -> None:
    """Raise :class:`~dosimetry.errors.OutputError` listing the first violations, if any."""
    errors = schema_errors(instance, schema)
    if errors:
        shown = "; ".join(errors[:5]) + (f"; ... {len(errors) - 5} more" if len(errors) > 5 else "")
        raise OutputError(f"results.json does not match schema {SCHEMA_VERSION}: {shown}")
