# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every database module shares.

``DB_ARGUMENT_SPEC`` goes into each DB module's argument spec (documented by the
``erpops.upgrade.db`` doc fragment); ``db_params(module.params)`` picks these
options out for ``db.connect()``. Environment variables fill in what the task
leaves out, so an execution environment can carry the connection once. The roles
fill every option from the inventory variable ``k2_db_<option>`` (``login_host`` from
``k2_db_host``, ``tls`` from ``k2_db_tls``...), see ``INVENTORY_VARIABLES``.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.erpops.upgrade.plugins.module_utils.db import DatabaseError

DB_ARGUMENT_SPEC = dict(
    db_platform=dict(type="str", choices=["mssql", "oracle", "lab"], default="mssql", fallback=(env_fallback, ["K2_DB_PLATFORM"])),
    login_host=dict(type="str", fallback=(env_fallback, ["K2_DB_HOST"])),
    login_port=dict(type="int", fallback=(env_fallback, ["K2_DB_PORT"])),
    login_user=dict(type="str", fallback=(env_fallback, ["K2_DB_USER"])),
    login_password=dict(type="str", no_log=True, fallback=(env_fallback, ["K2_DB_PASSWORD"])),
    odbc_driver=dict(type="str", fallback=(env_fallback, ["K2_DB_ODBC_DRIVER"])),
    tls=dict(type="bool", default=True, fallback=(env_fallback, ["K2_DB_TLS"])),
    tls_trust_server_certificate=dict(type="bool", default=False, fallback=(env_fallback, ["K2_DB_TLS_TRUST_SERVER_CERTIFICATE"])),
    connect_timeout=dict(type="int", default=15, fallback=(env_fallback, ["K2_DB_CONNECT_TIMEOUT"])),
    oracle_service_name=dict(type="str", fallback=(env_fallback, ["K2_DB_ORACLE_SERVICE"])),
    oracle_thick_mode=dict(type="bool", default=False),
    oracle_client_dir=dict(type="path"),
)


# The inventory variable the roles read for each option (module_defaults of the group erpops.upgrade.k2_connection).
INVENTORY_VARIABLES = {
    name: "k2_db_" + name.replace("login_", "").replace("db_", "") for name in DB_ARGUMENT_SPEC
}


def inventory_options(values: dict) -> dict:
    """The connection options set by ``k2_db_*`` variables in ``values``; unset and empty ones are left out,
    so that what a play's module_defaults, the environment or the default says stays in force for them."""
    return {option: values[variable] for option, variable in INVENTORY_VARIABLES.items()
            if values.get(variable) is not None and values.get(variable) != ""}


def db_params(params: dict) -> dict:
    """The connection options out of a module's ``params`` (missing ones as their defaults)."""
    return {name: params.get(name, spec.get("default")) for name, spec in DB_ARGUMENT_SPEC.items()}


def run_database_module(argument_spec: dict, run) -> None:
    """The ``main()`` of a database module: ``run(module)`` returns the result; a bad value or a database error fails
    the task with its one-line message (which never holds the password)."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = run(module)
    except (ValueError, DatabaseError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)
