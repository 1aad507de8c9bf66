# -*- coding: utf-8 -*-
"""The K2t DDL reader: the seed's vendor example, every clause, hostile input, Oracle and the lab."""
from __future__ import annotations

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl, split_statements
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import MAX_LENGTH, Column, Index, PrimaryKey

# Verbatim from the seed, section "Kontrola struktur všech databází" (blank lines included).
SEED = """CREATE TABLE [dbo].[FILTERSTOCKTAKINGARTICLE] (

[FUzivatel] [int] NOT NULL,

[Cis] [int] NOT NULL,

[Zkr] [varchar] (30) NOT NULL,

[Zkr1] [varchar] (30) NOT NULL,

[Naz] [varchar] (200) NOT NULL

)

GO

ALTER TABLE [dbo].[FILTERSTOCKTAKINGARTICLE] With NOCHECK ADD

CONSTRAINT [FSTTA_ById] PRIMARY KEY NONCLUSTERED

([FUzivatel], [Cis]) ON [PRIMARY]

GO

CREATE UNIQUE INDEX [FSTTA_ByAbbr] ON [dbo].[FILTERSTOCKTAKINGARTICLE]

([FUzivatel], [Zkr])

ON [PRIMARY]

GO

CREATE UNIQUE INDEX [FSTTA_ByAbbr1] ON [dbo].[FILTERSTOCKTAKINGARTICLE]

([FUzivatel], [Zkr1], [Cis])

ON [PRIMARY]

GO

CREATE UNIQUE INDEX [FSTTA_ByName] ON [dbo].[FILTERSTOCKTAKINGARTICLE]

([FUzivatel], [Naz], [Cis])

ON [PRIMARY]

GO
"""


def test_seed_example_verbatim():
    result = read_ddl(SEED, "mssql", "K2t_Firma_MS.SQL")
    assert result.problems == []
    table = result.schema.table("filterstocktakingarticle")
    assert [c.name for c in table.columns] == ["FUzivatel", "Cis", "Zkr", "Zkr1", "Naz"]
    assert table.column("Zkr") == Column("Zkr", "varchar", 30, nullable=False)
    assert table.column("Cis") == Column("Cis", "int", nullable=False)
    assert table.primary_key == PrimaryKey("FSTTA_ById", ("FUzivatel", "Cis"), False)
    assert table.indexes == [
        Index("FSTTA_ByAbbr", ("FUzivatel", "Zkr"), True),
        Index("FSTTA_ByAbbr1", ("FUzivatel", "Zkr1", "Cis"), True),
        Index("FSTTA_ByName", ("FUzivatel", "Naz", "Cis"), True),
    ]
    sources = result.sources["FILTERSTOCKTAKINGARTICLE"]
    assert sources.create.line == 1 and sources.create.text.startswith("CREATE TABLE [dbo].[FILTERSTOCKTAKINGARTICLE] (")
    assert sources.create.text.endswith(")")
    assert sources.primary_key.line == 17 and sources.primary_key.location == "K2t_Firma_MS.SQL:17"
    assert sources.indexes["FSTTA_BYNAME"].line == 41
    assert "GO" not in sources.indexes["FSTTA_BYNAME"].text
    assert [ref.line for ref in sources.statements()] == [1, 17, 25, 33, 41]


CLAUSES = """SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
PRINT 'Vytvářím tabulky'
GO
/* header comment
   GO inside a comment is not a separator */
if exists (select * from dbo.sysobjects where id = object_id(N'[dbo].[ART]') and OBJECTPROPERTY(id, N'IsUserTable') = 1)
drop table [dbo].[ART]
GO
CREATE FULLTEXT CATALOG [K2Catalog] WITH ACCENT_SENSITIVITY = OFF
GO
CREATE TABLE [dbo].[ART] (
    [Cis] [int] IDENTITY (1, 1) NOT FOR REPLICATION NOT NULL , -- trailing comment, GO
    [Zkr] [varchar] (30) COLLATE Czech_CI_AS NOT NULL ,
    [Cena] numeric (19, 6) NOT NULL CONSTRAINT [DF_ART_Cena] DEFAULT ((0)),
    [Naz] [nvarchar] (max) NULL ,
    [Pozn] [ntext] NULL ,
    [Obr] [image] NULL,
    [Stav] [int] NULL DEFAULT (0),
    [Dat] [datetime] NOT NULL DEFAULT (getdate()),
    [Jm] [sysname] NOT NULL,
    CONSTRAINT [ART_ByAbbr] UNIQUE NONCLUSTERED ([Zkr] ASC) WITH (PAD_INDEX = OFF) ON [PRIMARY]
) ON [PRIMARY] TEXTIMAGE_ON [PRIMARY]
GO
ALTER TABLE [dbo].[ART] With NOCHECK ADD
    CONSTRAINT [ART_ById] PRIMARY KEY CLUSTERED ([Cis]) ON [PRIMARY] ,
    CONSTRAINT [DF_ART_Stav2] DEFAULT (1) FOR [Stav],
    CONSTRAINT [CK_ART] CHECK ([Cena] >= 0)
GO
CREATE UNIQUE NONCLUSTERED INDEX [ART_ByName] ON [dbo].[ART] ([Naz] ASC, [Cis] DESC)
INCLUDE ([Zkr], [Cena]) WITH (FILLFACTOR = 90, PAD_INDEX = OFF) ON [PRIMARY]
GO
CREATE CLUSTERED INDEX [ART_ByStav] ON [dbo].[ART] ([Stav])
GO
CREATE FULLTEXT INDEX ON [dbo].[ART] ([Naz] LANGUAGE 1029, [Pozn] TYPE COLUMN [Zkr] LANGUAGE 'Czech')
KEY INDEX [ART_ById] ON [K2Catalog] WITH CHANGE_TRACKING AUTO
GO
"""


def test_every_mssql_clause():
    result = read_ddl(CLAUSES, "mssql", "K2t.SQL")
    assert result.problems == []
    art = result.schema.table("ART")
    assert art.column("Cis") == Column("Cis", "int", nullable=False, identity=True)
    assert art.column("Zkr").type == "varchar" and art.column("Zkr").length == 30
    assert art.column("Cena") == Column("Cena", "numeric", None, 19, 6, False, False, "((0))")
    assert art.column("Naz").length == MAX_LENGTH and art.column("Naz").nullable
    assert art.column("Pozn").type == "ntext" and art.column("Obr").type == "image"
    assert art.column("Stav").default == "(1)"  # the later DEFAULT ... FOR wins
    assert art.column("Dat").default == "(getdate())"
    assert art.column("Jm").type == "sysname"
    assert art.primary_key == PrimaryKey("ART_ById", ("Cis",), True)
    assert art.index("ART_ByAbbr") == Index("ART_ByAbbr", ("Zkr",), True)
    assert art.index("ART_ByName") == Index("ART_ByName", ("Naz", "Cis"), True, False, ("Zkr", "Cena"))
    assert art.index("ART_ByStav").clustered and not art.index("ART_ByStav").unique
    assert art.fulltext.columns == ("Naz", "Pozn") and art.fulltext.key_index == "ART_ById"
    whats = " ".join(i.what for i in result.ignored)
    for expected in ("SET", "PRINT", "IF", "CREATE FULLTEXT CATALOG"):
        assert expected in whats
    assert len(result.sources["ART"].fulltext) == 1


def test_several_statements_without_go_and_semicolons():
    text = ("CREATE TABLE T1 (A int NOT NULL);\nCREATE TABLE T2 (B varchar(5))\n"
            "ALTER TABLE T1 ADD CONSTRAINT PK_T1 PRIMARY KEY (A)\nCREATE INDEX IX_T2 ON T2 (B)\n")
    result = read_ddl(text, "mssql", "x")
    assert result.problems == []
    assert result.schema.table("T1").primary_key.columns == ("A",)
    assert result.sources["T2"].indexes["IX_T2"].line == 4


def test_hostile_names_and_unknown_statements_are_problems_not_drops():
    text = ("CREATE TABLE [dbo].[we]]ird 'name\"] ([a]]b] [int] NOT NULL, [c;d] [varchar] (5) NULL)\nGO\n"
            'CREATE TABLE "dq""t" ("x" int)\nGO\n'
            "MERGE INTO foo USING bar ON 1 = 1\nGO\n"
            "CREATE TABLE [dbo].[BAD] (\n[A] [int] NOT NULL\n[B] [int] NULL)\nGO\n"
            "CREATE TABLE [dbo].[ALSO_BAD] ([A] [int] NOT NULL, [B] [int] WHATEVER)\nGO\n"
            "CREATE INDEX [IX] ON [dbo].[NOWHERE] ([A])\nGO\n"
            "CREATE TABLE [dbo].[ODD] ([A] [int] NOT NULL, [B] AS ([A] * 2))\nGO\n"
            "ALTER TABLE [dbo].[dq\"t] ALTER COLUMN [x] bigint\nGO\n"
            "CREATE TABLE [dbo].[Q] ([A] [varchar] (5) DEFAULT 'it''s; GO' NOT NULL)\nGO\n")
    result = read_ddl(text, "mssql", "K2t.SQL")
    weird = result.schema.table("we]ird 'name\"")
    assert [c.name for c in weird.columns] == ["a]b", "c;d"]
    assert result.schema.table('dq"t').column("x").type == "bigint"   # ALTER COLUMN redefines it
    assert result.schema.table("Q").column("A").default == "'it''s; GO'"
    lines = [(p.line, p.excerpt[:20]) for p in result.problems]
    assert lines == [(5, "MERGE INTO foo USING"), (7, "CREATE TABLE [dbo].["), (11, "CREATE TABLE [dbo].["), (13, "CREATE INDEX [IX] ON")]
    assert result.schema.table("ODD").column("B").computed == "([A] * 2)"
    reasons = [p.reason for p in result.problems]
    assert "unknown statement MERGE" in reasons[0]
    assert "expected ','" in reasons[1] or "unexpected" in reasons[1]
    assert "WHATEVER" in reasons[2]
    assert "not created earlier" in reasons[3]
    assert result.schema.table("BAD") is None
    assert all(len(p.excerpt) <= 80 for p in result.problems)


def test_unterminated_comment_and_string_are_reported():
    result = read_ddl("CREATE TABLE T (A int)\nGO\nCREATE TABLE U (B int /* never closed\n", "mssql", "x")
    assert result.schema.table("T") is not None
    assert [(p.line, p.reason) for p in result.problems] == [(3, "unterminated /* comment")]
    result = read_ddl("CREATE TABLE V (A varchar(5) DEFAULT 'open)\nGO\n", "mssql", "x")
    assert len(result.problems) == 1 and result.problems[0].line == 1


def test_go_rules():
    text = "CREATE TABLE A (x int)\n  go  \nCREATE TABLE B (y int)\nGO 2 -- twice\nCREATE TABLE C (z int)\nGOTO\n"
    statements = list(split_statements(text, "mssql", implicit=False))
    assert [s.line for s in statements] == [1, 3, 5]
    assert statements[2].tokens[-1][1] == "GOTO"


ORACLE = """-- K2 Oracle structure
PROMPT tables
CREATE TABLE "FIRMY" (
  CIS NUMBER(10) NOT NULL,
  "Zkr" VARCHAR2(10 CHAR) NOT NULL,
  NAZ NVARCHAR2(100),
  KOD VARCHAR2(20 BYTE),
  CENA NUMBER(19,6) DEFAULT 0 NOT NULL,
  CELK NUMBER,
  CELE INTEGER,
  KUR NUMBER(*,0),
  ZNAK CHAR(1),
  DAT DATE DEFAULT SYSDATE,
  TS TIMESTAMP(3),
  POZN CLOB,
  POZNN NCLOB,
  OBR BLOB,
  ID NUMBER(10) GENERATED BY DEFAULT AS IDENTITY,
  CONSTRAINT FIRMY_BYID PRIMARY KEY (CIS) USING INDEX TABLESPACE K2_IDX ENABLE
) TABLESPACE K2_DATA STORAGE (INITIAL 64K NEXT 1M) PCTFREE 10 NOLOGGING;
CREATE TABLE k2.osoby (cis number(10) not null, jmeno varchar2(50))
/
ALTER TABLE OSOBY ADD CONSTRAINT OSOBY_BYID PRIMARY KEY (CIS) USING INDEX TABLESPACE K2_IDX;
CREATE UNIQUE INDEX FIRMY_BYABBR ON "FIRMY" ("Zkr") TABLESPACE K2_IDX STORAGE (INITIAL 64K) COMPUTE STATISTICS;
CREATE INDEX FT_FIRMY_NAZ ON FIRMY (NAZ) INDEXTYPE IS CTXSYS.CONTEXT PARAMETERS ('SYNC (ON COMMIT)')
/
CREATE INDEX FT_FIRMY_POZN ON FIRMY (POZN) INDEXTYPE IS CTXSYS.CONTEXT;
CREATE OR REPLACE TRIGGER FIRMY_TRG BEFORE INSERT ON FIRMY FOR EACH ROW
BEGIN
  :NEW.CIS := 1;
END;
/
COMMENT ON TABLE FIRMY IS 'mandanti';
"""


def test_oracle_flavour():
    result = read_ddl(ORACLE, "oracle", "K2t_CONF_Ora.SQL")
    assert result.problems == []
    firmy = result.schema.table("firmy")
    assert firmy.name == "FIRMY"
    assert firmy.column("CIS") == Column("CIS", "number", None, 10, 0, False)
    assert firmy.column("Zkr").name == "Zkr" and firmy.column("Zkr").length == 10 and firmy.column("Zkr").type == "varchar2"
    assert firmy.column("NAZ").type == "nvarchar2" and firmy.column("KOD").length == 20
    assert (firmy.column("CENA").precision, firmy.column("CENA").scale, firmy.column("CENA").default) == (19, 6, "0")
    assert (firmy.column("CELK").precision, firmy.column("CELK").scale) == (None, None)
    assert firmy.column("CELE").type == "integer"
    assert (firmy.column("KUR").precision, firmy.column("KUR").scale) == (None, 0)
    assert firmy.column("ZNAK").type == "char" and firmy.column("DAT").default == "SYSDATE"
    assert (firmy.column("TS").type, firmy.column("TS").scale) == ("timestamp", 3)
    assert [firmy.column(n).type for n in ("POZN", "POZNN", "OBR")] == ["clob", "nclob", "blob"]
    assert firmy.column("ID").identity
    assert firmy.primary_key == PrimaryKey("FIRMY_BYID", ("CIS",))
    assert firmy.index("firmy_byabbr") == Index("FIRMY_BYABBR", ("Zkr",), True)
    assert firmy.fulltext.columns == ("NAZ", "POZN") and len(result.sources["FIRMY"].fulltext) == 2
    osoby = result.schema.table("OSOBY")
    assert [c.name for c in osoby.columns] == ["CIS", "JMENO"]
    assert result.sources["OSOBY"].primary_key.line == 23
    assert any("TRIGGER" in i.what for i in result.ignored)


LAB = '''CREATE TABLE "Firmy" (
  "Cis" int4 GENERATED BY DEFAULT AS IDENTITY NOT NULL,
  "Naz" varchar(100) NULL,
  "Pozn" text,
  "Cena" numeric(19,6) DEFAULT 0 NOT NULL,
  "Dat" timestamp NOT NULL,
  "Obr" bytea,
  plain int4
)
GO
ALTER TABLE "Firmy" ADD CONSTRAINT "Firmy_ById" PRIMARY KEY ("Cis")
GO
CREATE UNIQUE INDEX "Firmy_ByName" ON public."Firmy" ("Naz") INCLUDE ("Cena")
GO
CREATE INDEX "FT_Firmy" ON "Firmy" USING gin (to_tsvector('simple', coalesce("Naz",'') || ' ' || coalesce("Pozn",'')))
GO
'''


def test_lab_flavour():
    result = read_ddl(LAB, "lab", "K2t_lab.SQL")
    assert result.problems == []
    firmy = result.schema.table("FIRMY")
    assert [c.type for c in firmy.columns] == ["int4", "varchar", "text", "numeric", "timestamp", "bytea", "int4"]
    assert firmy.column("Cis").identity and firmy.column("plain").name == "plain"
    assert firmy.index("Firmy_ByName").include == ("Cena",)
    assert firmy.fulltext.columns == ("Naz", "Pozn") and firmy.fulltext.key_index is None


@pytest.mark.parametrize("platform", ["mssql", "oracle", "lab"])
def test_line_numbers_survive_crlf_and_bom(platform):
    sep = "GO" if platform != "oracle" else "/"
    text = "\ufeffCREATE TABLE A (x int)\r\n%s\r\n\r\nCREATE TABLE B (y int)\r\n%s\r\n" % (sep, sep)
    result = read_ddl(text, platform, "f")
    assert result.problems == []
    assert [result.sources[k].create.line for k in sorted(result.sources)] == [1, 4]


def test_unknown_platform():
    with pytest.raises(ValueError):
        read_ddl("", "db2")
