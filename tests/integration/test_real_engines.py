"""The database adapters against real engines: the lab's PostgreSQL always; MS SQL and Oracle when configured.

The same tests run on every engine (parametrised over the adapters). MS SQL and Oracle
need a server; .github/workflows/real-engines.yml starts them as service containers and
sets the variables below. Without them those cases are skipped, and the skip says which
variables to set, unless ERPOPS_TEST_ENGINES_EXPECTED names the engine (the workflow sets
``mssql oracle``): then a missing variable fails the case, so a run started for an engine
cannot pass without reaching it.
"""

import os
import shutil
import tempfile
import uuid

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import db
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_literal
from tools.k2lab import cluster as k2cluster

ENGINE_VARIABLES = {
    "mssql": ("ERPOPS_TEST_MSSQL_HOST", "ERPOPS_TEST_MSSQL_PORT", "ERPOPS_TEST_MSSQL_USER", "ERPOPS_TEST_MSSQL_PASSWORD"),
    "oracle": ("ERPOPS_TEST_ORACLE_HOST", "ERPOPS_TEST_ORACLE_PORT", "ERPOPS_TEST_ORACLE_SERVICE", "ERPOPS_TEST_ORACLE_USER",
               "ERPOPS_TEST_ORACLE_PASSWORD"),
}
# Column types per engine for the test table: an integer key and a short text.
COLUMN_TYPES = {"lab": ("integer", "varchar(40)"), "mssql": ("int", "varchar(40)"), "oracle": ("NUMBER(10)", "VARCHAR2(40)")}
# Hostile names: Oracle refuses a double quote in any identifier, so its name has every other hostile character.
HOSTILE = {"lab": 'K2 ]x\'"; DROP TABLE y --', "mssql": 'K2 ]x\'"; DROP TABLE y --', "oracle": "K2 ]x'; DROP TABLE y --"}


def _flag(name, default):
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes")


def expected_engines():
    return set(os.environ.get("ERPOPS_TEST_ENGINES_EXPECTED", "").replace(",", " ").split())


def _remote_engine(platform):
    missing = [name for name in ENGINE_VARIABLES[platform] if not os.environ.get(name)]
    if missing and platform in expected_engines():
        pytest.fail("%s is expected (ERPOPS_TEST_ENGINES_EXPECTED) but %s not set" % (platform, ", ".join(missing)))
    if missing:
        pytest.skip("%s: set %s to run against a real server (.github/workflows/real-engines.yml does)" % (platform, ", ".join(missing)))
    prefix = "ERPOPS_TEST_%s_" % platform.upper()
    params = {
        "db_platform": platform,
        "login_host": os.environ[prefix + "HOST"],
        "login_port": int(os.environ[prefix + "PORT"]),
        "login_user": os.environ[prefix + "USER"],
        "login_password": os.environ[prefix + "PASSWORD"],
        "tls": _flag(prefix + "TLS", "1"),
        "tls_trust_server_certificate": _flag(prefix + "TRUST_CERT", "0"),
        "connect_timeout": 30,
    }
    if platform == "mssql":
        params["odbc_driver"] = os.environ.get("ERPOPS_TEST_MSSQL_ODBC_DRIVER") or None
        return params, os.environ.get("ERPOPS_TEST_MSSQL_DATABASE", "tempdb"), None
    params["oracle_service_name"] = os.environ["ERPOPS_TEST_ORACLE_SERVICE"]
    return params, os.environ.get("ERPOPS_TEST_ORACLE_SCHEMA", params["login_user"].upper()), None


def _lab_engine():
    lab_dir = tempfile.mkdtemp(prefix="erpops-engines-")
    cluster, _changed = k2cluster.ensure_running(lab_dir)
    database = "erpops_engine_test"
    login = quote_ident("lab", cluster.login)
    k2cluster.psql(cluster, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN CREATE ROLE %s LOGIN PASSWORD %s; END IF; END$$;"
                   % (quote_literal("lab", cluster.login), login, quote_literal("lab", cluster.password)))
    k2cluster.psql(cluster, "CREATE DATABASE %s OWNER %s" % (database, login))
    params = {"db_platform": "lab", "login_host": cluster.socket_dir, "login_port": cluster.port,
              "login_user": cluster.login, "login_password": cluster.password}
    return params, database, lab_dir


@pytest.fixture(scope="module", params=["lab", "mssql", "oracle"])
def engine(request):
    platform = request.param
    params, database, lab_dir = _lab_engine() if platform == "lab" else _remote_engine(platform)
    yield {"platform": platform, "params": params, "database": database}
    if lab_dir:
        k2cluster.remove(lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)


@pytest.fixture
def connection(engine):
    database = db.connect(engine["params"], engine["database"])
    yield database
    database.close()


@pytest.fixture
def hostile_table(engine, connection):
    platform = engine["platform"]
    name = "%s %s" % (HOSTILE[platform], uuid.uuid4().hex[:6])
    key_type, text_type = COLUMN_TYPES[platform]
    connection.execute("CREATE TABLE %s (%s %s NOT NULL PRIMARY KEY, %s %s)" % (
        quote_ident(platform, name), quote_ident(platform, "ID"), key_type, quote_ident(platform, "NAZEV"), text_type))
    yield name
    connection.execute("DROP TABLE %s" % quote_ident(platform, name))


def test_connect_and_query(engine, connection):
    rows = connection.query("SELECT 1 AS one" + (" FROM dual" if engine["platform"] == "oracle" else ""))
    assert [int(value) for row in rows for value in row.values()] == [1]


def test_catalog_of_a_created_table_in_at_most_three_round_trips(engine, connection, hostile_table):
    before = connection.round_trips
    catalog = connection.catalog()
    assert connection.round_trips - before <= 3
    table = catalog.table(hostile_table)
    assert table is not None, sorted(catalog.tables)[:20]
    assert [column.name.upper() for column in table.columns] == ["ID", "NAZEV"]
    assert table.primary_key is not None and [c.upper() for c in table.primary_key.columns] == ["ID"]


def test_hostile_names_and_values_are_quoted(engine, connection, hostile_table):
    platform = engine["platform"]
    value = "O'Brien \"]; --"
    connection.execute("INSERT INTO %s (%s, %s) VALUES (1, %s)" % (
        quote_ident(platform, hostile_table), quote_ident(platform, "ID"), quote_ident(platform, "NAZEV"), quote_literal(platform, value)))
    rows = connection.query("SELECT %s FROM %s" % (quote_ident(platform, "NAZEV"), quote_ident(platform, hostile_table)))
    assert [list(row.values())[0] for row in rows] == [value]


def test_wrong_password_is_a_database_error_without_the_password(engine):
    wrong = "wrong-" + uuid.uuid4().hex
    params = dict(engine["params"], login_password=wrong)
    with pytest.raises(db.DatabaseError) as caught:
        db.connect(params, engine["database"])
    assert caught.value.kind == db.LOGIN_FAILED
    assert wrong not in str(caught.value)
