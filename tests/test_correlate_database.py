"""``correlate --source DATABASE_URL`` on a real PostgreSQL server (issue 21 item 5): the same
associations as from the batch's metrics.csv, and the password in no message, log, result or
output file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from dosimetry.cli import main as cli_main
from tests.pipelines_cohort import write_patient

EVENTS = {"P02", "P05", "P07", "P08"}  # not monotone in dose: no separation


def _batch_and_outcomes(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, str]:
    root, out = tmp_path / "root", tmp_path / "out"
    for i in range(1, 9):
        write_patient(root / f"p{i}", patient_id=f"P{i:02d}", scale_gy=1.0 + 0.1 * i)
    code = cli_main.main(["--verbose", "batch", str(root), "--out", str(out), "--workers", "0", "--progress", "lines",
                          "--db", db_url, "--analysis", "tests.pipelines_cohort:header_analysis"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("patient_id,worst_toxicity_grade\n" + "".join(
        f"P{i:02d},{3 if f'P{i:02d}' in EVENTS else 1}\n" for i in range(1, 9)), encoding="utf-8")
    return out, outcomes, captured.out + captured.err


def _every_output(tmp_path: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file())


def test_correlate_reads_postgresql_and_never_prints_the_password(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Oracle: the same correlation computed from the batch's metrics.csv (a file written from the
    published manifests, not from the database); the password is a random token the server was
    started with, searched for verbatim in everything the commands printed, logged and wrote."""
    caplog.set_level(logging.DEBUG)
    password = sa.engine.make_url(postgres_url).password
    assert password and len(password) >= 16
    out, outcomes, printed = _batch_and_outcomes(tmp_path, postgres_url, capsys)
    transcripts = [printed]

    base = ["correlate", "--outcomes", str(outcomes), "--endpoint", "worst_toxicity_grade>=3", "--json"]
    assert cli_main.main([*base, "--source", postgres_url, "--csv", str(tmp_path / "from_db.csv")]) == 0
    captured = capsys.readouterr()
    transcripts.append(captured.out + captured.err)
    from_db = json.loads(captured.out)
    assert cli_main.main([*base, "--results", str(out), "--source", "csv", "--csv", str(tmp_path / "from_csv.csv")]) == 0
    captured = capsys.readouterr()
    from_csv = json.loads(captured.out)
    assert from_db["metrics_source"].startswith("postgresql+psycopg://dosimetry_test:***@127.0.0.1:")
    from_db.pop("metrics_source"), from_csv.pop("metrics_source")
    assert from_db == from_csv and from_db["patients"] == 8 and from_db["events"] == 4
    assert (tmp_path / "from_db.csv").read_bytes() == (tmp_path / "from_csv.csv").read_bytes()
    assert cli_main.main([*base[:-1], "--source", postgres_url]) == 0  # the text table
    captured = capsys.readouterr()
    transcripts.append(captured.out + captured.err)
    assert "metrics:  postgresql+psycopg://dosimetry_test:***@" in captured.out

    url = sa.engine.make_url(postgres_url)
    failing = {
        "no such database": url.set(database="nope").render_as_string(hide_password=False),
        "wrong password": url.set(password=password[::-1]).render_as_string(hide_password=False),
        "bad port": postgres_url.replace(f":{url.port}/", ":notaport/"),
        "empty database": postgres_url,  # no run recorded after dropping the tables
    }
    engine = sa.create_engine(postgres_url)
    from pipelines.store import metadata

    metadata.drop_all(engine)
    engine.dispose()
    for label, bad in failing.items():
        for args in (["--source", bad], ["--results", bad]):
            assert cli_main.main([*base, *args]) == 1, label
            captured = capsys.readouterr()
            assert captured.err.startswith("dosimetry: error: ") and captured.err.count("\n") == 1, (label, captured.err)
            transcripts.append(captured.out + captured.err)
    for secret in {password, password[::-1]}:
        for text in (*transcripts, caplog.text, _every_output(tmp_path)):
            assert secret not in text
    assert "***" in "".join(transcripts[-8:])
