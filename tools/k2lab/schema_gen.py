"""Deterministic generator of K2-like schema models for the lab, the tests and the benchmarks.

The model is written in K2's MS SQL terms (int, varchar(n), nvarchar(n), numeric(p,s),
datetime, text, ntext, image); ``render.platform_model`` maps it to Oracle and the lab.
Every name is unique across the whole schema where Oracle and PostgreSQL need it (index
names) and at most 30 characters long (Oracle before 12.2).
"""

from __future__ import annotations

import random

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import Column, FullTextIndex, Index, PrimaryKey, Schema, Table

_ROOTS = ("ART", "DOK", "FAK", "OBJ", "SKL", "POL", "ZAK", "DOD", "OSO", "UCT", "PRI", "VYD", "KUR", "MEN", "STR",
          "CEN", "SLE", "PLA", "ADR", "BAN", "KON", "SML", "MZD", "ZAM", "DPH", "KAT", "VYR", "OPE", "TRA", "REZ")
_SUFFIXES = ("POLOZKY", "HLAVA", "VAZBY", "HIST", "PARAM", "FILTR", "ZMENY", "TEXTY", "SAZBY", "STAV")
# (name, type, length, precision, scale): the columns K2 tables are made of.
_EXTRA_COLUMNS = (
    ("Naz", "nvarchar", 100, None, None), ("Pozn", "text", None, None, None), ("PoznN", "ntext", None, None, None),
    ("Cena", "numeric", None, 19, 6), ("Mnoz", "numeric", None, 19, 4), ("DatZm", "datetime", None, None, None),
    ("DatVz", "datetime", None, None, None), ("Kod", "varchar", 20, None, None), ("Popis", "varchar", 255, None, None),
    ("PopisN", "nvarchar", 255, None, None), ("Obr", "image", None, None, None), ("Stav", "int", None, None, None),
    ("Typ", "int", None, None, None), ("Sazba", "numeric", None, 5, 2), ("Mena", "varchar", 3, None, None),
    ("Ref", "varchar", 50, None, None), ("Xml", "nvarchar", -1, None, None), ("Data", "varchar", -1, None, None),
)


def conf_schema(seed: int = 0) -> Schema:
    """A small CONF schema; ``FIRMY`` is the mandant list the runbook's steps read."""
    schema = Schema(platform="mssql", database="CONF")
    firmy = Table("FIRMY", columns=[
        Column("Cis", "int", nullable=False),
        Column("Zkr", "varchar", 30, nullable=False),
        Column("Naz", "nvarchar", 100, nullable=False),
        Column("DatabaseName", "varchar", 128, nullable=False),
        Column("Typ", "varchar", 10, nullable=True),
    ])
    firmy.primary_key = PrimaryKey("FIRMY_ById", ("Cis",))
    firmy.indexes.append(Index("FIRMY_ByAbbr", ("Zkr",), unique=True))
    schema.add(firmy)
    _add_tables(schema, 12, random.Random(seed), prefix="C")
    return schema


def company_schema(tables: int = 200, seed: int = 0, database: str = "FIRMA") -> Schema:
    """A company database of ``tables`` tables (200 for tests, 2,000 for benchmarks)."""
    schema = Schema(platform="mssql", database=database)
    _add_tables(schema, tables, random.Random(seed), prefix="D")
    return schema


def _add_tables(schema: Schema, count: int, rng: random.Random, prefix: str) -> None:
    for number in range(count):
        name = "%s_%s_%04d" % (rng.choice(_ROOTS), rng.choice(_SUFFIXES), number)
        abbr = "%s%04d" % (prefix, number)  # K2 names keys after a short table abbreviation
        schema.add(_table(name, abbr, number, rng))


def _table(name: str, abbr: str, number: int, rng: random.Random) -> Table:
    per_user = number % 3 == 0
    columns = []
    if per_user:
        columns.append(Column("FUzivatel", "int", nullable=False))
    identity = number % 17 == 5
    columns.append(Column("Cis", "int", nullable=False, identity=identity))
    columns.append(Column("Zkr", "varchar", rng.choice((10, 20, 30)), nullable=False))
    extras = rng.sample(_EXTRA_COLUMNS, rng.randint(2, 12))
    for col_name, type_name, length, precision, scale in extras:
        nullable = rng.random() < 0.6
        default = "((0))" if type_name in ("int", "numeric") and not nullable and rng.random() < 0.5 else None
        columns.append(Column(col_name, type_name, length, precision, scale, nullable, False, default))
    table = Table(name, columns=columns)
    key_columns = ("FUzivatel", "Cis") if per_user else ("Cis",)
    table.primary_key = PrimaryKey(abbr + "_ById", key_columns, clustered=number % 11 == 3)
    prefix_cols = ("FUzivatel",) if per_user else ()
    table.indexes.append(Index(abbr + "_ByAbbr", prefix_cols + ("Zkr",), unique=True))
    names = [c for c in extras if c[0] in ("Naz", "Kod", "Ref", "Mena") or (c[1] == "int")]
    if names:
        second = names[0][0]
        include = ("Zkr",) if number % 4 == 1 else ()
        table.indexes.append(Index(abbr + "_By" + second, prefix_cols + (second, "Cis"), unique=number % 2 == 0, include=include))
    texts = [c[0] for c in extras if c[1] in ("nvarchar", "varchar", "text", "ntext")]
    if number % 9 == 2 and not per_user and texts:
        # MS SQL full-text needs a unique single-column key index: the primary key on Cis.
        table.fulltext = FullTextIndex(tuple(texts[:3]), abbr + "_ById")
    return table
