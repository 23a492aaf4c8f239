"""The test PostgreSQL server: a real server on 127.0.0.1 that refuses a wrong password and holds
the cohort schema."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipelines.store import CohortStore, patients


def test_server_accepts_the_password_only(postgres_url: str) -> None:
    """Oracle: the server's own answers (version(), inet_server_addr(), an authentication failure)."""
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version()")).scalar_one().startswith("PostgreSQL")
        assert str(conn.execute(sa.text("SELECT inet_server_addr()")).scalar_one()) == "127.0.0.1"
    engine.dispose()
    url = sa.engine.make_url(postgres_url)
    wrong = sa.create_engine(url.set(password="not-the-password"))
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        wrong.connect()
    wrong.dispose()
    store = CohortStore.open(postgres_url)
    assert store.count(patients) == 0
    store.close()
