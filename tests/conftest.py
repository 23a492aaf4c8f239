"""Test-wide settings: hypothesis draws its examples deterministically (derandomize), so a run on a
fresh clone (CI, a newcomer's machine) tries exactly the examples every other run tries; set
HYPOTHESIS_PROFILE=explore to search with fresh random examples instead."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from tests.postgres_server import PostgresServer

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
        "test_pipelines_dask_environment.py",
        "test_pipelines_faults.py",
        "test_correlate_database.py",
        "test_dvh_database.py",
        "test_pipelines_store.py",
        "test_postgres_server.py",
        "test_report_html.py",
        "test_report_print.py",
        "test_readme_examples.py",
        "test_sampledata_generator.py",
        "test_sampledata_committed.py",
        "test_trial_profile_ci.py",
        "test_patient_facade.py",
        "test_patient_step_reuse.py",
        "test_dvh_crosscheck.py",
        "test_outcomes_lkb_fit.py",
        "test_outcomes_models.py",
        "test_study_report.py",
        "test_patient_deformable.py",
        "test_align_register.py",
        "test_registration_uncertainty.py",
        "test_reirradiation_patient.py",
        "test_reirradiation_limits.py",
        "test_reirradiation_type.py",
        "test_node_serve.py",
        "test_patient_spread_reuse.py",
        "test_report_overlay_drawing.py",
        "test_end_cap_selectable.py",
        "test_batch_end_cap.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on the loopback interface for the whole session (see
    tests/postgres_server.py); the tests using it are skipped, with the reason, only where the
    ``postgresql`` package cannot be installed."""
    from tests.postgres_server import PostgresUnavailable
    from tests.postgres_server import postgres_server as start

    try:
        context = start()
        server = context.__enter__()
    except PostgresUnavailable as exc:
        if os.environ.get("DOSIMETRY_REQUIRE_POSTGRES") == "1":  # make test installed it: a skip would hide the tests
            pytest.fail(f"PostgreSQL required (DOSIMETRY_REQUIRE_POSTGRES=1) but unavailable: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL (with its password) of a new empty database on the session's PostgreSQL server."""
    from tests.postgres_server import create_database

    return create_database(postgres_server, f"t_{uuid.uuid4().hex[:12]}")
