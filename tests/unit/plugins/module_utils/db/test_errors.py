# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DatabaseError: one clean line that names the problem and never holds the password."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import db
from ansible_collections.erpops.upgrade.plugins.module_utils.db import base, lab, mssql, odbc, oracle

PASSWORD = "Tajne;Heslo}42"

# Driver texts as the drivers print them (pyodbc: (sqlstate, text); oracledb: str(error)).
DRIVER_TEXTS = [
    (mssql, ("42000", "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Cannot open database \"K2_X\" requested by the login. "
                      "The login failed. (4060) (SQLDriverConnect)"), db.DATABASE_MISSING),
    (mssql, ("28000", "[28000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for user 'k2'. (18456) (SQLDriverConnect)"),
     db.LOGIN_FAILED),
    (mssql, ("HYT00", "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0) (SQLDriverConnect)"), db.SERVER_NOT_ANSWERING),
    (mssql, ("08001", "[08001] [Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: Error code 0x2749 (10057) (SQLDriverConnect)"),
     db.SERVER_NOT_ANSWERING),
    (mssql, ("01000", "[01000] [unixODBC][Driver Manager]Can't open lib 'ODBC Driver 18 for SQL Server' : file not found (0) (SQLDriverConnect)"),
     db.DRIVER_MISSING),
    (mssql, ("IM002", "[IM002] [unixODBC][Driver Manager]Data source name not found and no default driver specified (0) (SQLDriverConnect)"),
     db.DRIVER_MISSING),
    (oracle, ("ORA-01017: invalid username/password; logon denied",), db.LOGIN_FAILED),
    (oracle, ("DPY-6001: cannot connect to database (CONNECTION_ID=x). Service \"K2PDB\" is not registered with the listener",),
     db.DATABASE_MISSING),
    (oracle, ("DPY-6005: cannot connect to database (CONNECTION_ID=x). [Errno 111] Connection refused",), db.SERVER_NOT_ANSWERING),
    (oracle, ("DPI-1047: Cannot locate a 64-bit Oracle Client library",), db.DRIVER_MISSING),
    (lab, ("08001", '[08001] connection to server on socket "/s/.s.PGSQL.5432" failed: FATAL:  database "K2_X" does not exist\n (101)'),
     db.DATABASE_MISSING),
    (lab, ("08001", '[08001] connection to server failed: FATAL:  password authentication failed for user "k2"\n (101)'), db.LOGIN_FAILED),
    (lab, ("08001", '[08001] connection to server on socket "/s/.s.PGSQL.1" failed: No such file or directory\n\tIs the server running'),
     db.SERVER_NOT_ANSWERING),
]


class RecordedDriverError(Exception):
    """A driver error replayed from its recorded text, with the ``args`` layout of pyodbc.Error / oracledb.Error."""


@pytest.mark.parametrize("adapter,args,kind", DRIVER_TEXTS)
def test_driver_texts_are_classified(adapter, args, kind):
    error = base.error_from_driver(RecordedDriverError(*args), adapter.ERROR_PATTERNS, "here", (PASSWORD,), base.SERVER_NOT_ANSWERING)
    assert error.kind == kind
    assert str(error).startswith(kind + ": here: ")
    assert "\n" not in str(error) and "\t" not in str(error)


def test_password_is_scrubbed_from_anything_a_driver_repeats():
    text = "[08001] failed for DRIVER={x};PWD={%s};UID=k2 and again %s; Password=plain;" % (PASSWORD.replace("}", "}}"), PASSWORD)
    error = base.error_from_driver(RecordedDriverError("08001", text), mssql.ERROR_PATTERNS, "here", (PASSWORD,))
    for shown in (str(error), repr(error), str(error.args)):
        assert PASSWORD not in shown and "Tajne" not in shown and "plain" not in shown
    assert base.REDACTED in str(error)


def test_long_driver_text_is_capped():
    error = base.error_from_driver(RecordedDriverError("42000", "x" * 5000), mssql.ERROR_PATTERNS, "here")
    assert len(str(error)) < 500


def odbc_drivers():
    if not shutil.which("odbcinst"):
        return ""
    return subprocess.run(["odbcinst", "-q", "-d"], capture_output=True, text=True, check=False).stdout


@pytest.mark.skipif(not odbc.HAS_PYODBC, reason="pyodbc is not installed")
def test_unregistered_odbc_driver_is_driver_missing():
    params = dict(db_platform="mssql", odbc_driver="No Such ODBC Driver 99", login_user="sa", login_password=PASSWORD, connect_timeout=2)
    with pytest.raises(db.DatabaseError) as caught:
        db.connect(params, "K2")
    assert caught.value.kind == db.DRIVER_MISSING and "odbcinst -q -d" in str(caught.value)
    assert PASSWORD not in repr(caught.value)


@pytest.mark.skipif("[FreeTDS]" not in odbc_drivers(), reason="the FreeTDS ODBC driver (tdsodbc) is not registered")
def test_freetds_to_a_dead_port_is_server_not_answering(dead_port):
    params = dict(db_platform="mssql", odbc_driver="FreeTDS", login_host="127.0.0.1", login_port=dead_port, login_user="sa",
                  login_password="Tajne;Heslo42", connect_timeout=2)
    with pytest.raises(db.DatabaseError) as caught:
        db.connect(params, "K2")
    assert caught.value.kind == db.SERVER_NOT_ANSWERING
    assert "Tajne" not in repr(caught.value) and "\n" not in str(caught.value)


@pytest.mark.skipif(not oracle.HAS_ORACLEDB, reason="oracledb is not installed")
def test_oracle_thin_to_a_dead_port_is_server_not_answering(dead_port):
    params = dict(db_platform="oracle", login_host="127.0.0.1", login_port=dead_port, login_user="K2", login_password=PASSWORD,
                  oracle_service_name="K2PDB", tls=False, connect_timeout=2)
    with pytest.raises(db.DatabaseError) as caught:
        db.connect(params, "K2_FIRMA")
    assert caught.value.kind == db.SERVER_NOT_ANSWERING and "K2PDB" in str(caught.value)
    assert PASSWORD not in repr(caught.value)


@pytest.mark.skipif(not oracle.HAS_ORACLEDB, reason="oracledb is not installed")
def test_oracle_thick_mode_without_client_is_driver_missing(tmp_path):
    params = dict(db_platform="oracle", oracle_thick_mode=True, oracle_client_dir=str(tmp_path), login_password=PASSWORD,
                  oracle_service_name="K2PDB")
    if not oracle.driver().is_thin_mode():
        pytest.skip("this process already runs oracledb in thick mode")
    with pytest.raises(db.DatabaseError) as caught:
        db.connect(params, "K2_FIRMA")
    assert caught.value.kind == db.DRIVER_MISSING and "Oracle Client" in str(caught.value)
