"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary directory,
listening on 127.0.0.1 on a free port, started once per session and stopped at its end.

Each test gets a database of its own (``pg_url``), made with ``CREATE DATABASE`` from
``template0`` and dropped after the test. As root (these machines run the tests as root, which
PostgreSQL refuses to run as), the server's binaries run as the ``postgres`` user through
``runuser``, in a directory given to it. Without ``initdb`` the tests that use it are skipped,
saying why. ``fsync=off``: a test server need not survive a power cut, only a killed client.

Use it from a test module with ``from postgres import pg_server, pg_url  # noqa: F401``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "irkit"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    root: Path

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(versions[0]) if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (Debian: postgresql)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: PostgreSQL cannot be started")
    root = Path(tempfile.mkdtemp(prefix="irkit-pg-"))
    if os.geteuid() == 0:
        try:
            shutil.chown(root, "postgres")
        except LookupError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
    data, port = root / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    try:
        subprocess.run(
            _as_owner([initdb, "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                       "--no-sync", "--no-instructions"]),
            check=True, capture_output=True, env=env, timeout=120,
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
        subprocess.run(
            _as_owner([pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
                       "-o", options, "start"]),
            check=True, capture_output=True, env=env, timeout=90,
        )  # fmt: skip
    except subprocess.CalledProcessError as e:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {e.stderr!r} {log}") from e
    try:
        yield PgServer("127.0.0.1", port, root)
    finally:
        subprocess.run(
            _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database for this test, dropped after it."""
    import psycopg

    name = f"t{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
