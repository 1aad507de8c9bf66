"""The lab's stand-in K2 installer: independent of the collection, and its pure parts."""
from __future__ import annotations

import ast
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.k2lab import installer, konverze  # noqa: E402

SOURCE = os.path.join(REPO, "tools", "k2lab", "installer.py")


def _imports(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("__import__", "import_module"):
            names.append("<dynamic import>")
    return names


def test_the_installer_shares_no_code_with_the_collection():
    names = _imports(SOURCE)
    assert names, "the import reader found nothing: it reads the wrong file"
    # Only the standard library: no plugins/, no ansible_collections, no lab module (site, release... import plugins/).
    forbidden = [name for name in names if name.startswith((".", "ansible", "tools", "plugins")) or name == "<dynamic import>"]
    assert forbidden == []
    assert all(name.split(".")[0] in sys.stdlib_module_names for name in names), names
    with open(SOURCE, encoding="utf-8") as handle:
        assert "plugins" not in handle.read().replace("imports nothing of the collection (``plugins/``)", "")


def test_versions_and_reachability():
    assert installer.parse_version("gaia.12.3") == (4, 12, 3)
    assert installer.parse_version("K2 ori.09") == (5, 9, None)
    assert installer.token(installer.parse_version("ori.09")) == 509
    assert installer.reach((4, 12, 3), (5, 9, None)) is None
    assert installer.reach((4, 12, 3), (4, 12, 4)) is None
    assert "install ori.08 first" in installer.reach((4, 12, 3), (6, 1, None))
    assert "cannot be reached" in installer.reach((4, 14, None), (5, 9, None))
    assert "downgrade" in installer.reach((5, 9, None), (4, 12, None))


def test_conversions_follow_the_seed_table():
    names = ["K2_C412Lab.sql", "K2_C412LabAdditional.sql", "K2_C509Lab.sql", "K2_C509LabAdditional.sql", "K2_D509Lab.sql",
             "K2_D509LabAdditional.sql", "K2_D509.sql", "K2_D509OraAdditional.sql", "readme.txt"]
    generation = installer.choose_conversions(names, (4, 12, 3), (5, 9, None))
    assert generation == {"C": ["K2_C509Lab.sql", "K2_C509LabAdditional.sql"], "D": ["K2_D509Lab.sql", "K2_D509LabAdditional.sql"]}
    build = installer.choose_conversions(names, (5, 9, 1), (5, 9, 2))
    assert build == {"C": ["K2_C509LabAdditional.sql"], "D": ["K2_D509LabAdditional.sql"]}
    release = installer.choose_conversions(names, (4, 11, None), (4, 12, None))
    assert release == {"C": ["K2_C412LabAdditional.sql"], "D": []}


def test_batches_split_like_the_server_would():
    text = konverze.render_conversions("lab", ["509"])["K2_D509Lab.sql"]
    batches = installer.split_batches(text)
    # The lab's one-time file: marker table, marker row (a string holding a GO line), table, copy, a $$ block.
    assert len(batches) == 5
    assert "GO\nit''s the third line" in batches[1][2]
    assert batches[4][2].startswith("DO $$")
    repeated = installer.split_batches("SELECT 1\nGO 2\n/* a\nGO\n/* nested */ still\nGO\n*/ SELECT 2\ngo -- done\n")
    assert [(count, body.splitlines()[0]) for _line, count, body in repeated] == [(2, "SELECT 1"), (1, "/* a")]
    assert repeated[1][0] == 3


def test_records(tmp_path):
    records = str(tmp_path / "records.json")
    assert installer.find_record(installer.load_records(records), "/k2") is None
    first = installer.register(records, "/k2", "gaia.12.3", {"k2": "aa"})
    again = installer.register(records, "/k2", "ori.09", {"k2": "bb"})
    data = installer.load_records(records)
    # A classic upgrade updates the installation's own record.
    assert [(r["id"], r["version"]) for r in data["records"]] == [(first, "ori.09")] and again == first
    # A takeover adds a record; the old one stays behind as an orphan.
    assert installer.register(records, "/k2", "ori.09", {"k2": "cc"}, replace=False) == first + 1
    assert len(installer.load_records(records)["records"]) == 2
    installer.forget(records, "/k2")
    assert installer.load_records(records)["records"] == []
