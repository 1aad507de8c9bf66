# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared argument spec, its environment fallbacks, and the doc fragment that documents it."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.erpops.upgrade.plugins.doc_fragments.db import ModuleDocFragment
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, INVENTORY_VARIABLES, db_params, inventory_options

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))

ENV = {"db_platform": "K2_DB_PLATFORM", "login_host": "K2_DB_HOST", "login_port": "K2_DB_PORT", "login_user": "K2_DB_USER",
       "login_password": "K2_DB_PASSWORD", "odbc_driver": "K2_DB_ODBC_DRIVER", "oracle_service_name": "K2_DB_ORACLE_SERVICE",
       "tls": "K2_DB_TLS", "tls_trust_server_certificate": "K2_DB_TLS_TRUST_SERVER_CERTIFICATE", "connect_timeout": "K2_DB_CONNECT_TIMEOUT"}


def test_doc_fragment_matches_the_spec():
    options = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(options) == set(DB_ARGUMENT_SPEC)
    for name, spec in DB_ARGUMENT_SPEC.items():
        doc = options[name]
        assert doc["type"] == spec["type"], name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("choices") == spec.get("choices"), name
        if name in ENV:
            assert "E(%s)" % ENV[name] in " ".join(doc["description"]), name


def test_password_is_no_log_and_every_env_fallback_is_wired():
    assert DB_ARGUMENT_SPEC["login_password"]["no_log"] is True
    assert {name: spec["fallback"][1][0] for name, spec in DB_ARGUMENT_SPEC.items() if "fallback" in spec} == ENV


def test_environment_fills_what_the_task_leaves_out(monkeypatch):
    monkeypatch.setenv("K2_DB_PLATFORM", "lab")
    monkeypatch.setenv("K2_DB_PORT", "5433")
    monkeypatch.setenv("K2_DB_PASSWORD", "from-env")
    result = ArgumentSpecValidator(DB_ARGUMENT_SPEC).validate({"login_host": "/run/postgresql"})
    assert result.error_messages == []
    params = db_params(result.validated_parameters)
    assert params["db_platform"] == "lab" and params["login_port"] == 5433 and params["login_password"] == "from-env"
    assert params["tls"] is True and params["connect_timeout"] == 15 and params["login_host"] == "/run/postgresql"
    assert "from-env" in result._no_log_values  # pylint: disable=protected-access


def test_task_value_beats_the_environment(monkeypatch):
    monkeypatch.setenv("K2_DB_PLATFORM", "lab")
    result = ArgumentSpecValidator(DB_ARGUMENT_SPEC).validate({"db_platform": "oracle"})
    assert db_params(result.validated_parameters)["db_platform"] == "oracle"


def test_db_params_ignores_other_module_options():
    params = db_params({"login_user": "sa", "state": "present", "name": "K2"})
    assert set(params) == set(DB_ARGUMENT_SPEC) and params["login_user"] == "sa" and params["db_platform"] == "mssql"


def test_tls_and_timeout_come_from_the_environment_too(monkeypatch):
    monkeypatch.setenv("K2_DB_TLS", "false")
    monkeypatch.setenv("K2_DB_CONNECT_TIMEOUT", "40")
    params = db_params(ArgumentSpecValidator(DB_ARGUMENT_SPEC).validate({}).validated_parameters)
    assert params["tls"] is False and params["connect_timeout"] == 40 and params["tls_trust_server_certificate"] is False


def _module_defaults(node, found):
    """Every module_defaults dict in a task list, blocks included."""
    if isinstance(node, list):
        for item in node:
            _module_defaults(item, found)
    elif isinstance(node, dict):
        if "module_defaults" in node:
            found.append(node["module_defaults"])
        for key in ("block", "rescue", "always"):
            _module_defaults(node.get(key), found)
    return found


@pytest.mark.parametrize("role", ["k2_maintenance", "k2_preflight", "k2_test_environment"])
def test_roles_give_the_inventorys_connection_without_replacing_a_plays_k2_defaults(role):
    tasks = os.path.join(REPO, "roles", role, "tasks", "main.yml")
    with open(tasks, encoding="utf-8") as handle:
        found = _module_defaults(yaml.safe_load(handle), [])
    assert found, role
    for defaults in found:
        # group/erpops.upgrade.k2 would replace the whole entry a play gives for that group (odbc_driver and all)
        assert "group/erpops.upgrade.k2" not in defaults, role
        assert defaults["group/erpops.upgrade.k2_connection"].startswith("{{ lookup('erpops.upgrade.k2_connection') "), role


def test_inventory_options_are_only_what_the_inventory_sets():
    assert inventory_options({"k2_db_host": "sql01", "k2_db_port": None, "k2_db_user": "", "k2_db_tls": False,
                              "k2_db_odbc_driver": "FreeTDS", "k2_db_platform": "mssql", "k2_folder": "C:\\K2"}) == {
        "login_host": "sql01", "tls": False, "odbc_driver": "FreeTDS", "db_platform": "mssql"}
    assert set(INVENTORY_VARIABLES.values()) == {
        "k2_db_platform", "k2_db_host", "k2_db_port", "k2_db_user", "k2_db_password", "k2_db_odbc_driver", "k2_db_tls",
        "k2_db_tls_trust_server_certificate", "k2_db_connect_timeout", "k2_db_oracle_service_name", "k2_db_oracle_thick_mode",
        "k2_db_oracle_client_dir"}


def test_the_connection_group_holds_the_same_modules_as_k2():
    with open(os.path.join(REPO, "meta", "runtime.yml"), encoding="utf-8") as handle:
        groups = yaml.safe_load(handle)["action_groups"]
    assert groups["k2_connection"] == [{"metadata": {"extend_group": ["erpops.upgrade.k2"]}}]
    assert groups["comarch_connection"] == [{"metadata": {"extend_group": ["erpops.upgrade.comarch"]}}]
