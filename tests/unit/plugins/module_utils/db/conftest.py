# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway PostgreSQL cluster for the lab adapter, reached through a unix socket."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

import pytest

PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD_ROLE = "k2pw"  # the one role that must log in with a password (scram); everything else is trusted
HBA = "local all %s scram-sha-256\nlocal all all trust\n" % PASSWORD_ROLE
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "catalog")


@pytest.fixture(name="saved_rows")
def fixture_saved_rows():
    """Load a saved catalog result set from tests/unit/fixtures/catalog/."""
    def load(name: str) -> dict:
        with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
            return json.load(handle)
    return load


def _missing_prerequisite():
    try:
        import pyodbc  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        return "pyodbc is not installed"
    if not shutil.which("odbcinst"):
        return "unixodbc (odbcinst) is not installed"
    drivers = subprocess.run(["odbcinst", "-q", "-d"], capture_output=True, text=True, check=False).stdout
    if "[PostgreSQL Unicode]" not in drivers:
        return "odbc-postgresql is not installed: odbcinst -q -d does not list PostgreSQL Unicode"
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        return "PostgreSQL 15 binaries are not installed in %s" % PG_BIN
    if os.geteuid() != 0 or not shutil.which("runuser"):
        return "starting a cluster as the postgres user needs root and runuser"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user"
    return None


@pytest.fixture(name="dead_port")
def fixture_dead_port() -> int:
    return free_port()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*args: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--"] + list(args), check=True, capture_output=True, text=True)


@pytest.fixture(scope="session")
def pg_cluster():
    """Connection parameters of a fresh cluster (trust auth, unix socket only); stopped at teardown."""
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    postgres = pwd.getpwnam("postgres")
    data = tempfile.mkdtemp(prefix="k2lab-pgdata-")
    sockets = tempfile.mkdtemp(prefix="k2lab-pgsock-")
    for path in (data, sockets):
        os.chown(path, postgres.pw_uid, postgres.pw_gid)
    port = free_port()
    _as_postgres(os.path.join(PG_BIN, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
    with open(os.path.join(data, "pg_hba.conf"), "w", encoding="ascii") as hba:
        hba.write(HBA)
    _as_postgres(os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-l", os.path.join(data, "server.log"),
                 "-o", "-k %s -p %d -c listen_addresses=''" % (sockets, port), "-w", "start")
    try:
        yield {"db_platform": "lab", "login_host": sockets, "login_port": port, "login_user": "postgres", "connect_timeout": 5}
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, check=False)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(sockets, ignore_errors=True)
