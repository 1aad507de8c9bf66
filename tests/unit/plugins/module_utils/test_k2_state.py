"""K2 state SQL texts parse in every dialect, and rows read the same whatever the key case."""

import pytest
import sqlglot

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_state
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile

READ = {"mssql": "tsql", "oracle": "oracle", "lab": "postgres"}
HOSTILE = merge_profile({
    "reinstall_manager": {"table": "RE]INST'AL", "ban_enabled_column": "Zak;az"},
    "version_init": {"table": "INI]CI", "function_column": "Fun'kce"},
    "extensions": {"table": "ROZ;SIR", "name_column": "Na]zev"},
})
BUILDERS = [k2_state.reinstall_manager_sql, k2_state.missing_initializations_sql, k2_state.extensions_sql]


@pytest.mark.parametrize("platform", sorted(READ))
@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("profile", [merge_profile(), HOSTILE], ids=["default", "hostile"])
def test_sql_is_one_select_in_each_dialect(platform, builder, profile):
    sql = builder(platform, "K2_CONF", profile)
    statements = sqlglot.parse(sql, read=READ[platform], error_level=sqlglot.ErrorLevel.RAISE)
    assert len(statements) == 1 and isinstance(statements[0], sqlglot.exp.Select)


def test_hostile_names_stay_identifiers_on_mssql():
    sql = k2_state.reinstall_manager_sql("mssql", "K2_CONF", HOSTILE)
    tables = [t.name for t in sqlglot.parse_one(sql, read="tsql").find_all(sqlglot.exp.Table)]
    assert tables == ["RE]INST'AL"]


def test_missing_initializations_filters_mandatory_not_done():
    sql = k2_state.missing_initializations_sql("lab", "FIRMA", merge_profile())
    assert 'WHERE "Povinna" = 1 AND "Provedeno" IS NULL' in sql


def test_reinstall_manager_state_reads_flags_of_any_key_case():
    assert k2_state.reinstall_manager_state([{"BAN_ENABLED": 1, "REINSTALL_ALLOWED": "0", "PREPARATION_DONE": True}]) == {
        "ban_enabled": True, "reinstall_allowed": False, "preparation_done": True}
    assert k2_state.reinstall_manager_state([]) is None


def test_extension_states_and_function_names():
    rows = [{"NAME": "Sklad ", "IS_CURRENT": 0, "FORMAT": "1.0"}, {"name": "Dochazka", "is_current": 1, "format": None}]
    assert k2_state.extension_states(rows) == [
        {"name": "Sklad", "current": False, "format": "1.0"}, {"name": "Dochazka", "current": True, "format": None}]
    assert k2_state.function_names([{"FUNCTION_NAME": "Prepocet skladu"}]) == ["Prepocet skladu"]
