# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared argument spec, its environment fallbacks, and the doc fragment that documents it."""

from __future__ import annotations

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.erpops.upgrade.plugins.doc_fragments.db import ModuleDocFragment
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params

ENV = {"db_platform": "K2_DB_PLATFORM", "login_host": "K2_DB_HOST", "login_port": "K2_DB_PORT", "login_user": "K2_DB_USER",
       "login_password": "K2_DB_PASSWORD", "odbc_driver": "K2_DB_ODBC_DRIVER", "oracle_service_name": "K2_DB_ORACLE_SERVICE"}


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
