"""Test-wide settings: hypothesis draws its examples deterministically (derandomize), so a run on a
fresh clone (CI, a newcomer's machine) tries exactly the examples every other run tries; set
HYPOTHESIS_PROFILE=explore to search with fresh random examples instead."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


#: Test modules marked ``slow`` (each takes seconds: a real browser, real worker processes, a whole
#: patient analysed, a byte-for-byte regeneration of the sample patient, brute-force profiles).
#: ``make test`` and CI run them; ``pytest -m "not slow"`` is the quick subset for development.
SLOW_MODULES = frozenset(
    {
        "test_analyze_batch.py",
        "test_analyze_planning_system.py",
        "test_dvh_compare_tps.py",
        "test_dvh_sensitivity.py",
        "test_dvh_shape.py",
        "test_analyze_end_to_end.py",
        "test_pipelines_batch.py",
        "test_pipelines_dask.py",
        "test_report_html.py",
        "test_sampledata_generator.py",
        "test_sampledata_committed.py",
        "test_trial_profile_ci.py",
        "test_patient_facade.py",
        "test_dvh_crosscheck.py",
        "test_node_serve.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
