# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the shared database connection options (``erpops.upgrade.db``)."""

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
notes:
  - The roles of this collection set every connection option from an inventory variable of the same name with the prefix
    C(k2_db_) (C(k2_db_platform), C(k2_db_host), C(k2_db_port), C(k2_db_user), C(k2_db_password), C(k2_db_odbc_driver),
    C(k2_db_tls), C(k2_db_tls_trust_server_certificate), C(k2_db_connect_timeout), C(k2_db_oracle_service_name),
    C(k2_db_oracle_thick_mode), C(k2_db_oracle_client_dir)), through C(module_defaults) of the action group
    C(erpops.upgrade.k2_connection). A variable that is not set leaves the option to a play's C(module_defaults)
    for C(group/erpops.upgrade.k2), then to the environment variable named below, then to the default.
options:
  db_platform:
    description:
      - Database engine under K2.
      - C(lab) is the PostgreSQL lab database reached through the C(PostgreSQL Unicode) ODBC driver.
      - If not set, the value of the E(K2_DB_PLATFORM) environment variable is used.
    type: str
    choices: [mssql, oracle, lab]
    default: mssql
  login_host:
    description:
      - Host name or address of the database server.
      - For O(db_platform=lab) this may also be the directory of the PostgreSQL unix socket.
      - If not set, the value of the E(K2_DB_HOST) environment variable is used, else C(localhost).
    type: str
  login_port:
    description:
      - TCP port of the database server.
      - If not set, the value of the E(K2_DB_PORT) environment variable is used, else C(1433) (mssql), C(1521) (oracle) or C(5432) (lab).
      - A named MS SQL instance (C(server\\INSTANCE) in O(login_host)) without a port is located through SQL Browser.
    type: int
  login_user:
    description:
      - Database login.
      - On mssql, leaving it unset uses integrated authentication (C(Trusted_Connection=yes)).
      - If not set, the value of the E(K2_DB_USER) environment variable is used.
    type: str
  login_password:
    description:
      - Password of O(login_user).
      - If not set, the value of the E(K2_DB_PASSWORD) environment variable is used.
    type: str
  odbc_driver:
    description:
      - Name of the ODBC driver as registered with the driver manager (C(odbcinst -q -d)).
      - Defaults to C(ODBC Driver 18 for SQL Server) on mssql and C(PostgreSQL Unicode) on lab; C(FreeTDS) is also accepted on mssql.
      - Not used on oracle.
      - If not set, the value of the E(K2_DB_ODBC_DRIVER) environment variable is used.
    type: str
  tls:
    description:
      - Encrypt the connection.
      - On mssql this is C(Encrypt=yes) (ODBC Driver 18) or C(Encryption=require) (FreeTDS).
      - On oracle this connects with TCPS, so the listener must offer it; set V(false) for a plain TCP listener.
      - On lab this sets C(SSLmode); it is ignored for a unix socket.
      - If not set, the value of the E(K2_DB_TLS) environment variable is used.
    type: bool
    default: true
  tls_trust_server_certificate:
    description:
      - Accept the server certificate without validating it (C(TrustServerCertificate=yes) on mssql, C(SSLmode=require) on lab).
      - On oracle this only turns off the match of the certificate name against the host.
      - If not set, the value of the E(K2_DB_TLS_TRUST_SERVER_CERTIFICATE) environment variable is used.
    type: bool
    default: false
  connect_timeout:
    description:
      - Seconds to wait for the server to answer a login.
      - If not set, the value of the E(K2_DB_CONNECT_TIMEOUT) environment variable is used.
    type: int
    default: 15
  oracle_service_name:
    description:
      - Oracle service name to connect to; required on oracle.
      - On oracle the database argument of each module names the schema (owner) of the K2 mandant.
      - If not set, the value of the E(K2_DB_ORACLE_SERVICE) environment variable is used.
    type: str
  oracle_thick_mode:
    description:
      - Use the python-oracledb thick mode (Oracle Client libraries) instead of the default thin mode.
    type: bool
    default: false
  oracle_client_dir:
    description:
      - Directory of the Oracle Client libraries for O(oracle_thick_mode=true); the system search path when not set.
    type: path
requirements:
  - pyodbc and an ODBC driver (mssql, lab)
  - oracledb (oracle)
"""
