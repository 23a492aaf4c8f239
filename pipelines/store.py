"""The cohort database (SQLAlchemy Core): SQLite at ``OUT/cohort.sqlite`` by default, or any URL.

Only the batch coordinator writes (workers return results to it), so SQLite's single writer is
no limit. Every per-patient write is one transaction that replaces the patient's rows (delete, then
insert, plus an ``INSERT .. ON CONFLICT DO UPDATE`` upsert of the patient row on SQLite and
PostgreSQL), so a rerun after a kill converges to the same rows and never duplicates any: the
primary keys below forbid duplicates anyway.

Schema (all doses in Gy, volumes in cc; ``patient_key`` is the sanitised output folder name under
``OUT/patients/`` and the join key of every table):

``runs``  one row per ``dosimetry batch`` invocation
    run_id (PK, uuid4 text), started_utc, finished_utc, status (``running``, ``completed``,
    ``completed_with_failures``, ``interrupted``: the process died or was stopped before the end,
    ``failed``: the batch itself failed), error (one line), parameters_json (the parameters as
    hashed, :func:`pipelines.hashing.parameters_document`: residual, alpha/beta, protocol, the DVH
    ``end_cap`` convention, extra), analysis_id, software_version, out_dir, patients_total,
    succeeded, skipped, failed. A patient's rows were computed under the parameters of
    ``patients.last_run_id`` (a run that skipped it had the same run key, hence the same parameters).
``patients``  the latest state of each patient
    patient_key (PK), patient_id (raw DICOM PatientID), layout (``folder``/``grouped``), source
    (folder or ROOT), status (``succeeded``/``failed``), error (one line, failures only), run_key
    and inputs_sha256 (see :mod:`pipelines.hashing`), last_run_id, updated_utc, warnings_json.
``patient_runs``  what each batch run did with each patient
    (run_id, patient_key) PK, status (``succeeded``/``skipped``/``failed``), error, run_key,
    duration_s.
``input_files``  provenance: (patient_key, relative_path) PK, sha256, modality, sop_instance_uid.
``courses``  (patient_key, label) PK, plan_sop_instance_uid, radiation_type, fractions,
    prescription_dose_gy, frame_of_reference_uid.
``rois``  (patient_key, name) PK, interpreted_type, volume_cc.
``metrics``  (patient_key, roi, quantity, metric) PK, value, unit; indexed by (roi, quantity,
    metric) for cohort queries such as "Brainstem D0.03cc on EQD2_cumulative for every patient".
``constraint_results``  (patient_key, roi, quantity, metric, comparator, limit_value) PK, value,
    unit, passed (boolean), description.
``dvh_curves``  (patient_key, roi, quantity) PK, points, dose_gy and volume_cc: the cumulative DVH
    of the patient's ``dvh.csv`` (``volume_cc[k]`` receives at least ``dose_gy[k]``) as
    little-endian float64 bytes (:mod:`pipelines.dvh_curves`; exact, the same numbers as the
    file); indexed by (roi, quantity). Schema version 2 added it: an older database gains the
    empty table when a batch opens it, and a rerun fills it for every patient it finds unchanged.

Patients that vanish from ROOT keep their rows; ``patients.last_run_id`` tells which run last saw
them, and ``patient_runs`` which patients each run saw: ``metric_rows(run_id)`` selects a run's
patients through it, so two batches sharing one database (different ``--out``) each keep their
own patients. The result tables hold one version per ``patient_key`` (the latest write): two
batches analysing the same patients with different parameters should not share a database.

A failed patient keeps no metrics, ROIs, courses, constraint or DVH rows (stale numbers from an earlier
input would mislead a toxicity analysis); its ``patients.error`` says why.

Example (toxicity correlation)::

    SELECT p.patient_id, m.value AS brainstem_d003cc_eqd2_gy
    FROM metrics m JOIN patients p USING (patient_key)
    WHERE m.roi = 'Brainstem' AND m.quantity = 'EQD2_cumulative' AND m.metric = 'D0.03cc[Gy]'
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dosimetry.errors import ArgumentError, OutputError
from pipelines.analysis import PatientInputs, PatientResult
from pipelines.dvh_curves import DvhCurve, from_blob, to_blob

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: dvh_curves
#: Attempts at creating the tables when another batch creates them at the same moment.
CREATE_ATTEMPTS = 5
DEFAULT_DB_NAME = "cohort.sqlite"

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("started_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_utc", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("parameters_json", sa.Text, nullable=False),
    sa.Column("analysis_id", sa.Text, nullable=False),
    sa.Column("software_version", sa.String(64), nullable=False),
    sa.Column("out_dir", sa.Text, nullable=False),
    sa.Column("patients_total", sa.Integer),
    sa.Column("succeeded", sa.Integer),
    sa.Column("skipped", sa.Integer),
    sa.Column("failed", sa.Integer),
)

patients = sa.Table(
    "patients",
    metadata,
    sa.Column("patient_key", sa.String(64), primary_key=True),
    sa.Column("patient_id", sa.Text, nullable=False),
    sa.Column("layout", sa.String(16), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("run_key", sa.String(64)),
    sa.Column("inputs_sha256", sa.String(64)),
    sa.Column("last_run_id", sa.String(36), nullable=False),
    sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("warnings_json", sa.Text, nullable=False),
)

patient_runs = sa.Table(
    "patient_runs",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("patient_key", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("run_key", sa.String(64)),
    sa.Column("duration_s", sa.Float),
)

input_files = sa.Table(
    "input_files",
    metadata,
    sa.Column("patient_key", sa.String(64), primary_key=True),
    sa.Column("relative_path", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("modality", sa.Text, nullable=False),
    sa.Column("sop_instance_uid", sa.Text, nullable=False),
)

courses = sa.Table(
    "courses",
    metadata,
    sa.Column("patient_key", sa.String(64), primary_key=True),
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("plan_sop_instance_uid", sa.Text, nullable=False),
    sa.Column("radiation_type", sa.Text, nullable=False),
    sa.Column("fractions", sa.Integer),
    sa.Column("prescription_dose_gy", sa.Float),
    sa.Column("frame_of_reference_uid", sa.Text, nullable=False),
)

rois = sa.Table(
    "rois",
    metadata,
    sa.Column("patient_key", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("interpreted_type", sa.Text, nullable=False),
    sa.Column("volume_cc", sa.Float, nullable=False),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("patient_key", sa.String(64), primary_key=True),
    sa.Column("roi", sa.Text, primary_key=True),
    sa.Column("quantity", sa.Text, primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Index("ix_metrics_roi_quantity_metric", "roi", "quantity", "metric"),
)

constraint_results = sa.Table(
    "constraint_results",
    metadata,
    sa.Column("patient_key", sa.String(64), primary_key=True),
    sa.Column("roi", sa.Text, primary_key=True),
    sa.Column("quantity", sa.Text, primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("comparator", sa.Text, primary_key=True),
    sa.Column("limit_value", sa.Float, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
)

dvh_curves = sa.Table(
    "dvh_curves",
    metadata,
    sa.Column("patient_key", sa.String(64), primary_key=True),
    sa.Column("roi", sa.Text, primary_key=True),
    sa.Column("quantity", sa.Text, primary_key=True),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("dose_gy", sa.LargeBinary, nullable=False),
    sa.Column("volume_cc", sa.LargeBinary, nullable=False),
    sa.Index("ix_dvh_curves_roi_quantity", "roi", "quantity"),
)

schema_info = sa.Table(
    "schema_info",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

_PATIENT_CHILD_TABLES = (input_files, courses, rois, metrics, constraint_results, dvh_curves)


def now_utc() -> datetime:
    return datetime.now(UTC)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and the run summary)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):  # not parsable (e.g. a port that is no number): show the scheme only
        return f"{url.split('://', 1)[0]}://***" if "://" in url else url


def default_url(out_dir: Path) -> str:
    return f"sqlite:///{(Path(out_dir) / DEFAULT_DB_NAME).resolve().as_posix()}"


class CohortStore:
    """Writes and reads the cohort database. Create with :meth:`open`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> CohortStore:
        """Connect to ``url`` (an SQLAlchemy URL) and create the tables if needed."""
        try:
            engine = sa.create_engine(url, future=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise ArgumentError(
                f"--db {redact_url(url)!r} is not a usable SQLAlchemy database URL: {_one_line(exc)} "
                "(PostgreSQL needs a driver such as psycopg: postgresql+psycopg://user@host/db)"
            ) from exc
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                metadata.create_all(engine)
                with engine.begin() as conn:
                    _upsert(conn, schema_info, {"name": "schema_version", "value": str(SCHEMA_VERSION)}, ("name",))
                break
            except sa.exc.SQLAlchemyError as exc:
                # Two batches opening a new database at once race to create the tables (PostgreSQL:
                # a unique violation in pg_type; SQLite: "table already exists"); the loser sees
                # the winner's tables on the next attempt.
                if attempt < CREATE_ATTEMPTS and (isinstance(exc, sa.exc.IntegrityError) or "already exists" in str(exc)):
                    logger.info("creating the cohort tables raced with another batch (%s); retrying", _one_line(exc))
                    time.sleep(0.2 * attempt)
                    continue
                engine.dispose()
                raise OutputError(f"cannot open the cohort database {engine.url!r}: {_one_line(exc)}") from exc
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- runs -------------------------------------------------------------------------------
    def start_run(self, run_id: str, *, parameters_json: str, analysis_id: str, software_version: str, out_dir: Path) -> None:
        with self._begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.status == "running", runs.c.out_dir == str(out_dir))
                .values(status="interrupted", error="the run stopped before it finished (killed or interrupted)")
            )
            conn.execute(
                runs.insert().values(
                    run_id=run_id,
                    started_utc=now_utc(),
                    status="running",
                    parameters_json=parameters_json,
                    analysis_id=analysis_id,
                    software_version=software_version,
                    out_dir=str(out_dir),
                )
            )

    def finish_run(self, run_id: str, *, status: str, error: str | None, total: int, succeeded: int, skipped: int, failed: int) -> None:
        with self._begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id)
                .values(
                    finished_utc=now_utc(),
                    status=status,
                    error=error,
                    patients_total=total,
                    succeeded=succeeded,
                    skipped=skipped,
                    failed=failed,
                )
            )

    def last_run_parameters(self, out_dir: Path, *, before_run_id: str) -> dict[str, Any] | None:
        """The parameters document of the latest run into ``out_dir`` started before ``before_run_id``
        (None: no such run, or its parameters are not readable JSON)."""
        with self.engine.connect() as conn:
            started = sa.select(runs.c.started_utc).where(runs.c.run_id == before_run_id).scalar_subquery()
            row = conn.execute(
                sa.select(runs.c.parameters_json)
                .where(runs.c.out_dir == str(out_dir), runs.c.run_id != before_run_id, runs.c.started_utc <= started)
                .order_by(runs.c.started_utc.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        try:
            document = json.loads(row.parameters_json)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    # -- patients ---------------------------------------------------------------------------
    def patient_run_key(self, patient_key: str) -> str | None:
        """The run key of the patient's last success recorded in the database, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(patients.c.run_key, patients.c.status).where(patients.c.patient_key == patient_key)
            ).first()
        if row is None or row.status != "succeeded":
            return None
        return row.run_key

    def record_success(
        self,
        run_id: str,
        inputs: PatientInputs,
        *,
        run_key: str,
        inputs_sha256: str,
        file_sha256: Sequence[tuple[str, str]],
        result: PatientResult,
        skipped: bool,
        duration_s: float,
        dvhs: Sequence[DvhCurve] = (),
    ) -> None:
        """Replace the patient's rows by ``result`` and its DVH curves by ``dvhs`` (one transaction)."""
        sha_of = dict(file_sha256)
        with self._begin() as conn:
            self._replace_patient(
                conn, run_id, inputs, status="succeeded", error=None, run_key=run_key, inputs_sha256=inputs_sha256,
                warnings=(*inputs.warnings, *result.warnings),
            )
            _insert_many(
                conn,
                input_files,
                [
                    {
                        "patient_key": inputs.key,
                        "relative_path": f.relative_path,
                        "sha256": sha_of[f.relative_path],
                        "modality": f.modality,
                        "sop_instance_uid": f.sop_instance_uid,
                    }
                    for f in inputs.files
                ],
            )
            _insert_many(conn, courses, [{"patient_key": inputs.key, **vars(c)} for c in result.courses])
            _insert_many(conn, rois, [{"patient_key": inputs.key, **vars(r)} for r in result.rois])
            _insert_many(conn, metrics, [{"patient_key": inputs.key, **vars(m)} for m in result.metrics])
            _insert_many(
                conn,
                constraint_results,
                [
                    {
                        "patient_key": inputs.key,
                        "roi": c.roi,
                        "quantity": c.quantity,
                        "metric": c.metric,
                        "comparator": c.comparator,
                        "limit_value": c.limit,
                        "value": c.value,
                        "unit": c.unit,
                        "passed": c.passed,
                        "description": c.description,
                    }
                    for c in result.constraints
                ],
            )
            _insert_many(
                conn,
                dvh_curves,
                [
                    {
                        "patient_key": inputs.key,
                        "roi": c.roi,
                        "quantity": c.quantity,
                        "points": int(c.dose_gy.size),
                        "dose_gy": to_blob(c.dose_gy),
                        "volume_cc": to_blob(c.volume_cc),
                    }
                    for c in dvhs
                ],
            )
            self._patient_run(conn, run_id, inputs.key, "skipped" if skipped else "succeeded", None, run_key, duration_s)

    def has_dvh_curves(self, patient_key: str) -> bool:
        """Whether the database holds any DVH curve of the patient (a database written before
        schema version 2 holds none)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(dvh_curves.c.patient_key).where(dvh_curves.c.patient_key == patient_key).limit(1)).first()
        return row is not None

    def record_skip(self, run_id: str, patient_key: str, *, run_key: str) -> None:
        """Note that this run found the patient up to date in the database."""
        with self._begin() as conn:
            conn.execute(
                patients.update().where(patients.c.patient_key == patient_key).values(last_run_id=run_id)
            )
            self._patient_run(conn, run_id, patient_key, "skipped", None, run_key, 0.0)

    def record_failure(self, run_id: str, inputs: PatientInputs, *, error: str, run_key: str | None, duration_s: float) -> None:
        """Mark the patient failed with a one-line ``error`` and drop its stale result rows."""
        with self._begin() as conn:
            self._replace_patient(
                conn, run_id, inputs, status="failed", error=error, run_key=run_key, inputs_sha256=None,
                warnings=inputs.warnings,
            )
            self._patient_run(conn, run_id, inputs.key, "failed", error, run_key, duration_s)

    # -- reading ----------------------------------------------------------------------------
    def metric_rows(self, run_id: str | None = None) -> Iterator[Mapping[str, Any]]:
        """Metric rows joined with the patient's PatientID, in a stable order: every row, or with
        ``run_id`` those of the patients that run analysed or found unchanged (``patient_runs``
        membership, so a later run sharing the database does not take patients away from it)
        and whose stored rows still come from the same run key (another run with other inputs
        or parameters may have replaced them: :meth:`replaced_patients` lists those)."""
        query = (
            sa.select(
                metrics.c.patient_key,
                patients.c.patient_id,
                metrics.c.roi,
                metrics.c.quantity,
                metrics.c.metric,
                metrics.c.value,
                metrics.c.unit,
            )
            .select_from(metrics.join(patients, metrics.c.patient_key == patients.c.patient_key))
            .order_by(metrics.c.patient_key, metrics.c.roi, metrics.c.quantity, metrics.c.metric)
        )
        if run_id is not None:
            query = query.join(
                patient_runs,
                sa.and_(
                    patient_runs.c.patient_key == metrics.c.patient_key,
                    patient_runs.c.run_id == run_id,
                    patient_runs.c.status.in_(("succeeded", "skipped")),
                    patient_runs.c.run_key == patients.c.run_key,
                ),
            )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield dict(row._mapping)

    def dvh_curve_rows(self, run_id: str, roi: str, quantity: str) -> Iterator[tuple[str, str, DvhCurve]]:
        """(patient_key, PatientID, curve) of ``roi`` on ``quantity`` (exact names) for the patients
        of run ``run_id``, selected like :meth:`metric_rows` (``patient_runs`` membership and the
        same run key), in patient_key order."""
        query = (
            sa.select(
                dvh_curves.c.patient_key,
                patients.c.patient_id,
                dvh_curves.c.points,
                dvh_curves.c.dose_gy,
                dvh_curves.c.volume_cc,
            )
            .select_from(dvh_curves.join(patients, dvh_curves.c.patient_key == patients.c.patient_key))
            .join(
                patient_runs,
                sa.and_(
                    patient_runs.c.patient_key == dvh_curves.c.patient_key,
                    patient_runs.c.run_id == run_id,
                    patient_runs.c.status.in_(("succeeded", "skipped")),
                    patient_runs.c.run_key == patients.c.run_key,
                ),
            )
            .where(dvh_curves.c.roi == roi, dvh_curves.c.quantity == quantity)
            .order_by(dvh_curves.c.patient_key)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                what = f"cohort database, DVH of {roi} on {quantity} of patient {row.patient_key}"
                dose, volume = from_blob(row.dose_gy, what + " (dose_gy)"), from_blob(row.volume_cc, what + " (volume_cc)")
                if not (dose.size == volume.size == row.points):
                    raise OutputError(f"{what}: {dose.size} doses and {volume.size} volumes stored for {row.points} points")
                yield row.patient_key, row.patient_id, DvhCurve(roi, quantity, dose, volume)

    def replaced_patients(self, run_id: str) -> list[str]:
        """Patients that run ``run_id`` analysed or found unchanged whose database rows now hold
        another run key (another batch sharing the database analysed other inputs or parameters)."""
        query = (
            sa.select(patient_runs.c.patient_key)
            .select_from(patient_runs.join(patients, patients.c.patient_key == patient_runs.c.patient_key))
            .where(
                patient_runs.c.run_id == run_id,
                patient_runs.c.status.in_(("succeeded", "skipped")),
                sa.or_(patients.c.run_key.is_(None), patients.c.run_key != patient_runs.c.run_key),
            )
            .order_by(patient_runs.c.patient_key)
        )
        with self.engine.connect() as conn:
            return [row.patient_key for row in conn.execute(query)]

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    # -- helpers ----------------------------------------------------------------------------
    def _begin(self) -> Any:
        return self.engine.begin()

    @staticmethod
    def _replace_patient(
        conn: Connection,
        run_id: str,
        inputs: PatientInputs,
        *,
        status: str,
        error: str | None,
        run_key: str | None,
        inputs_sha256: str | None,
        warnings: Sequence[str],
    ) -> None:
        """Upsert the patient's row and delete its result rows (the caller inserts the new ones)."""
        _upsert(
            conn,
            patients,
            {
                "patient_key": inputs.key,
                "patient_id": inputs.patient_id,
                "layout": str(inputs.layout),
                "source": inputs.source_label,
                "status": status,
                "error": error,
                "run_key": run_key,
                "inputs_sha256": inputs_sha256,
                "last_run_id": run_id,
                "updated_utc": now_utc(),
                "warnings_json": json.dumps(list(warnings)),
            },
            ("patient_key",),
        )
        for table in _PATIENT_CHILD_TABLES:
            conn.execute(table.delete().where(table.c.patient_key == inputs.key))

    @staticmethod
    def _patient_run(
        conn: Connection, run_id: str, patient_key: str, status: str, error: str | None, run_key: str | None, duration_s: float
    ) -> None:
        _upsert(
            conn,
            patient_runs,
            {
                "run_id": run_id,
                "patient_key": patient_key,
                "status": status,
                "error": error,
                "run_key": run_key,
                "duration_s": duration_s,
            },
            ("run_id", "patient_key"),
        )


def _insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(table.insert(), rows)


def upsert_statement(dialect: str, table: sa.Table, row: dict[str, Any], key_columns: tuple[str, ...]) -> Any:
    """``INSERT .. ON CONFLICT (keys) DO UPDATE`` for ``sqlite`` or ``postgresql``."""
    statement: Any
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).values(**row)
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        statement = postgresql_insert(table).values(**row)
    else:
        raise ArgumentError(f"no native upsert for database dialect {dialect!r}")
    updates = {k: statement.excluded[k] for k in row if k not in key_columns}
    if updates:
        return statement.on_conflict_do_update(index_elements=list(key_columns), set_=updates)
    return statement.on_conflict_do_nothing(index_elements=list(key_columns))


def _upsert(conn: Connection, table: sa.Table, row: dict[str, Any], key_columns: tuple[str, ...]) -> None:
    """Native upsert on SQLite/PostgreSQL; delete + insert elsewhere (same transaction)."""
    if conn.dialect.name in ("sqlite", "postgresql"):
        conn.execute(upsert_statement(conn.dialect.name, table, row, key_columns))
        return
    condition = sa.and_(*[table.c[k] == row[k] for k in key_columns])
    conn.execute(table.delete().where(condition))
    conn.execute(table.insert().values(**row))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
