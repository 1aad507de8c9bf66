# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection strings are built by pure functions and hostile values cannot add attributes."""

from __future__ import annotations

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import db
from ansible_collections.erpops.upgrade.plugins.module_utils.db import base, lab, mssql, oracle

HOSTILE = ["K2]FIRMA", "K2'FIRMA", 'K2"FIRMA', "K2;Database=master", "K2}FIRMA", "a};UID=sa;PWD={x", "}}", "{", "x}", " lead"]


def parse_odbc(text):
    """Attributes of an ODBC connection string as the ODBC spec (and ODBC Driver 18) read it."""
    result, pos = [], 0
    while pos < len(text):
        eq = text.index("=", pos)
        name, pos = text[pos:eq], eq + 1
        if text[pos:pos + 1] == "{":
            value, pos = [], pos + 1
            while True:
                close = text.index("}", pos)
                value.append(text[pos:close])
                if text[close + 1:close + 2] == "}":
                    value.append("}")
                    pos = close + 2
                    continue
                pos = close + 1
                break
            value = "".join(value)
        else:
            end = text.find(";", pos)
            end = len(text) if end < 0 else end
            value, pos = text[pos:end], end
        assert text[pos:pos + 1] in (";", ""), "garbage after a value at %d in %r" % (pos, text)
        pos += 1
        result.append((name, value))
    return result


def mssql_params(**overrides):
    params = dict(db_platform="mssql", login_host="sql1.example.cz", login_port=1433, login_user="k2", login_password="pw", tls=True,
                  tls_trust_server_certificate=False, connect_timeout=15, odbc_driver=None)
    params.update(overrides)
    return params


def test_mssql_default_connection_string():
    attributes = parse_odbc(mssql.connection_string(mssql_params(), "K2_FIRMA"))
    assert attributes == [("DRIVER", "ODBC Driver 18 for SQL Server"), ("SERVER", "sql1.example.cz,1433"), ("DATABASE", "K2_FIRMA"),
                          ("UID", "k2"), ("PWD", "pw"), ("Encrypt", "yes"), ("TrustServerCertificate", "no")]


def test_mssql_tls_switches():
    attributes = dict(parse_odbc(mssql.connection_string(mssql_params(tls=False, tls_trust_server_certificate=True), "K2")))
    assert attributes["Encrypt"] == "no" and attributes["TrustServerCertificate"] == "yes"


def test_mssql_named_instance_without_port_leaves_the_port_to_sql_browser():
    assert dict(parse_odbc(mssql.connection_string(mssql_params(login_host="sql1\\K2", login_port=None), "K2")))["SERVER"] == "sql1\\K2"
    assert dict(parse_odbc(mssql.connection_string(mssql_params(login_host="sql1\\K2"), "K2")))["SERVER"] == "sql1\\K2,1433"


def test_mssql_without_login_uses_integrated_security():
    attributes = dict(parse_odbc(mssql.connection_string(mssql_params(login_user=None, login_password=None), "K2")))
    assert attributes["Trusted_Connection"] == "yes" and "UID" not in attributes and "PWD" not in attributes


@pytest.mark.parametrize("value", HOSTILE)
def test_mssql_hostile_values_stay_one_attribute(value):
    text = mssql.connection_string(mssql_params(login_password=value, login_user=value), value)
    attributes = parse_odbc(text)
    assert [pair[0] for pair in attributes] == ["DRIVER", "SERVER", "DATABASE", "UID", "PWD", "Encrypt", "TrustServerCertificate"]
    assert dict(attributes)["PWD"] == value and dict(attributes)["DATABASE"] == value and dict(attributes)["UID"] == value


def test_freetds_uses_its_own_keywords():
    attributes = dict(parse_odbc(mssql.connection_string(mssql_params(odbc_driver="FreeTDS", login_password="a;b"), "K2")))
    assert attributes["SERVER"] == "sql1.example.cz" and attributes["PORT"] == "1433" and attributes["Encryption"] == "require"
    assert attributes["PWD"] == "a;b"


def test_freetds_refuses_a_closing_brace_instead_of_misquoting_it():
    with pytest.raises(db.DatabaseError) as caught:
        mssql.connection_string(mssql_params(odbc_driver="FreeTDS", login_password="se}cret"), "K2")
    assert caught.value.kind == db.BAD_PARAMETER and "login_password" in str(caught.value) and "se}cret" not in str(caught.value)


def test_nul_is_refused_everywhere():
    with pytest.raises(db.DatabaseError):
        mssql.connection_string(mssql_params(), "K2\x00")
    with pytest.raises(db.DatabaseError):
        lab.connection_string(dict(login_password="a\x00b"), "K2")


def test_lab_connection_string_braces_only_the_password():
    params = dict(login_host="/tmp/sock", login_port=5433, login_user="postgres", login_password="a};UID=evil;b")
    attributes = parse_odbc(lab.connection_string(params, "K2_FIRMA"))
    assert attributes == [("DRIVER", "PostgreSQL Unicode"), ("Servername", "/tmp/sock"), ("Port", "5433"), ("Database", "K2_FIRMA"),
                          ("UID", "postgres"), ("PWD", "a};UID=evil;b"), ("SSLmode", "disable"), ("BoolsAsChar", "0")]


@pytest.mark.parametrize("value", ["K2;UID=evil", "{K2}", "K2}"])
def test_lab_refuses_values_psqlodbc_cannot_quote(value):
    with pytest.raises(db.DatabaseError) as caught:
        lab.connection_string(dict(login_host="localhost"), value)
    assert caught.value.kind == db.BAD_PARAMETER


@pytest.mark.parametrize("value", ["K2]FIRMA", "K2'FIRMA", 'K2"FIRMA'])
def test_lab_passes_harmless_punctuation(value):
    assert dict(parse_odbc(lab.connection_string(dict(login_host="localhost"), value)))["Database"] == value


@pytest.mark.parametrize("host,tls,trust,mode", [("/run/pg", True, False, "disable"), ("db.lab", True, False, "verify-full"),
                                                 ("db.lab", True, True, "require"), ("db.lab", False, False, "disable")])
def test_lab_ssl_mode(host, tls, trust, mode):
    assert lab.ssl_mode(host, dict(tls=tls, tls_trust_server_certificate=trust)) == mode


def test_oracle_connect_args():
    args = oracle.connect_args(dict(login_host="ora1", login_user="K2", login_password="p;w}", oracle_service_name="K2PDB", tls=False,
                                    connect_timeout=7))
    assert args == dict(user="K2", password="p;w}", host="ora1", port=1521, service_name="K2PDB", protocol="tcp",
                        ssl_server_dn_match=True, tcp_connect_timeout=7.0)
    assert oracle.connect_args(dict(oracle_service_name="X", tls=True))["protocol"] == "tcps"


def test_oracle_needs_a_service_name():
    with pytest.raises(db.DatabaseError) as caught:
        db.connect(dict(db_platform="oracle", login_password="hunter2"), "K2")
    assert caught.value.kind == db.BAD_PARAMETER and "oracle_service_name" in str(caught.value)


def test_unknown_platform_is_refused():
    with pytest.raises(db.DatabaseError) as caught:
        db.connect(dict(db_platform="db2"), "K2")
    assert caught.value.kind == db.BAD_PARAMETER


def test_brace_doubles_closing_braces():
    assert base.brace("a}b") == "{a}}b}" and base.brace("") == "{}"
