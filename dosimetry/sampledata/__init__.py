"""Deterministic synthetic patients (DICOM CT, RT Structure Set, RT (Ion) Plan, RT Dose, REG)."""
