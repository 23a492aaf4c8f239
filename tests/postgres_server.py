"""A throwaway PostgreSQL server for the database tests (and ``benchmarks/faults.py``).

:func:`postgres_server` starts Debian's ``postgresql`` package binaries (``initdb`` and ``pg_ctl``
from ``/usr/lib/postgresql/<version>/bin``) on a free loopback port, with a data folder in a
temporary directory, password authentication (scram-sha-256) and a random password, and stops and
deletes it on exit. PostgreSQL refuses to run as root: as root the server runs as the ``postgres``
system user the package creates (``runuser -u postgres``).

When the binaries are missing and this process is root with ``apt-get``, the package is installed
(``make postgres`` does the same beforehand). Where it cannot be installed,
:class:`PostgresUnavailable` says why; the pytest fixture turns that into a skip with the reason,
except under ``make test`` (``DOSIMETRY_REQUIRE_POSTGRES=1``, set after ``make postgres`` installed
the package), where it is a failure. A server that is installed but does not start
(:class:`PostgresStartError`) is always an error.
Every wait is bounded (``pg_ctl -w -t``, subprocess timeouts).
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 60
INSTALL_TIMEOUT_S = 600
SUPERUSER = "dosimetry_test"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed and cannot be installed here."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: Path

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) with the password."""
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"


def _bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def ensure_binaries() -> Path:
    """The folder holding ``initdb``/``pg_ctl``; installs Debian's ``postgresql`` when possible."""
    found = _bin_dir()
    if found is not None:
        return found
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin and this process cannot install them "
            "(needs root and apt-get): run 'sudo apt-get install postgresql' or 'make postgres'"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        try:
            proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PostgresUnavailable(f"'{' '.join(command)}' did not finish within {INSTALL_TIMEOUT_S} s") from exc
        if proc.returncode != 0:
            tail = " ".join((proc.stderr or proc.stdout).split()[-30:])
            raise PostgresUnavailable(f"'{' '.join(command)}' failed (exit {proc.returncode}): {tail}")
    found = _bin_dir()
    if found is None:
        raise PostgresUnavailable("apt-get installed 'postgresql' but no /usr/lib/postgresql/*/bin/pg_ctl exists")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root without 'runuser': cannot start PostgreSQL as the postgres user")
    return ["runuser", "-u", "postgres", "--", *command]


class PostgresStartError(RuntimeError):
    """The binaries are there but initdb or pg_ctl failed: an error of the test setup, never a skip."""


def _run(command: list[str], timeout_s: float) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise PostgresStartError(f"'{Path(command[command.index('--') + 1] if '--' in command else command[0]).name}' failed: {(proc.stderr or proc.stdout).strip()[-800:]}")


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a PostgreSQL server on 127.0.0.1 (a free port); yields it; stops and deletes it."""
    bin_dir = ensure_binaries()
    base = Path(tempfile.mkdtemp(prefix="dosimetry-pg-"))
    data_dir, socket_dir = base / "data", base / "socket"
    password = secrets.token_urlsafe(18)
    started = False
    try:
        socket_dir.mkdir()
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
            shutil.chown(socket_dir, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        os.chmod(pwfile, 0o600)
        _run(
            _as_server_user(
                [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, "--pwfile", str(pwfile),
                 "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync"]
            ),
            START_TIMEOUT_S,
        )
        pwfile.unlink()
        port = _free_port()
        options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        _run(
            _as_server_user(
                [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(base / "server.log"), "-o", options,
                 "-w", "-t", str(START_TIMEOUT_S), "start"]
            ),
            START_TIMEOUT_S + 10,
        )
        started = True
        yield PostgresServer("127.0.0.1", port, SUPERUSER, password, "postgres", data_dir)
    finally:
        if started:
            with contextlib.suppress(Exception):
                subprocess.run(
                    _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "-t", "30", "stop"]),
                    capture_output=True, timeout=40, check=False,
                )
        shutil.rmtree(base, ignore_errors=True)


def create_database(server: PostgresServer, name: str) -> str:
    """Create an empty database ``name`` on ``server``; returns its SQLAlchemy URL."""
    import sqlalchemy as sa

    engine = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return server.url_for(name)
