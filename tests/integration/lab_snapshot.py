"""What a lab holds, to compare before and after a run that must change nothing (check mode).

Files: the SHA-256 of every file under the given roots (the sites' folders with their run state, folder backups and
records beside them, the lab host's installer records). Databases: per database of the given prefixes, the catalog
(tables, columns with type and nullability, indexes, constraints) and every table's rows, each as an MD5.
"""

import configparser
import hashlib
import os

from tools.k2lab import cluster as k2cluster
from tools.k2lab import installer as lab_installer

TABLES_SQL = """SELECT t.table_name || '=' ||
  md5(query_to_xml(format('SELECT * FROM %I.%I ORDER BY 1', t.table_schema, t.table_name), true, false, '')::text) || '/' ||
  (SELECT md5(string_agg(c.column_name || ':' || c.data_type || ':' || c.is_nullable || ':' || coalesce(c.column_default, ''),
                         ',' ORDER BY c.ordinal_position))
   FROM information_schema.columns c WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name)
FROM information_schema.tables t WHERE t.table_schema = 'public' ORDER BY 1"""
CATALOG_SQL = """SELECT 'indexes=' || md5(coalesce(string_agg(indexdef, ';' ORDER BY indexdef), '')) FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraints=' || md5(coalesce(string_agg(conrelid::regclass || ':' || conname || ':' || pg_get_constraintdef(oid), ';'
                                                 ORDER BY conrelid::regclass::text, conname), ''))
FROM pg_constraint WHERE connamespace = 'public'::regnamespace"""


def files(*roots):
    found = {}
    for root in roots:
        if os.path.isfile(root):
            with open(root, "rb") as handle:
                found[root] = hashlib.sha256(handle.read()).hexdigest()
            continue
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    found[path] = "link:" + os.readlink(path)
                    continue
                with open(path, "rb") as handle:
                    found[path] = hashlib.sha256(handle.read()).hexdigest()
    return found


def databases(cluster, prefixes):
    names = k2cluster.psql(cluster, "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1").split()
    mine = [name for name in names if name.startswith(tuple(prefixes))]
    return {name: (k2cluster.psql(cluster, TABLES_SQL, database=name).split(), k2cluster.psql(cluster, CATALOG_SQL, database=name).split())
            for name in mine}


def snapshot(cluster, prefixes, *roots):
    return {"files": files(*roots), "databases": databases(cluster, prefixes)}


def differences(before, after):
    """What changed, for the assertion message: file paths and database.table entries."""
    found = []
    for path in sorted(set(before["files"]) | set(after["files"])):
        if before["files"].get(path) != after["files"].get(path):
            found.append(path)
    for name in sorted(set(before["databases"]) | set(after["databases"])):
        one, other = before["databases"].get(name), after["databases"].get(name)
        if one is None or other is None:
            found.append("database %s %s" % (name, "created" if one is None else "dropped"))
            continue
        for entries_one, entries_other in zip(one, other):
            found += ["%s: %s" % (name, entry) for entry in sorted(set(entries_one) ^ set(entries_other))]
    return found


def folder_version(folder):
    """The K2 version a site's folder holds, as ``ori.09``: the release's ``K2VERSION.txt``, else k2.ini's [K2] VERSION.

    Read with the lab's own version parser, not the collection's, so a test that compares it does not agree with itself.
    """
    version_file = os.path.join(folder, "K2VERSION.txt")
    if os.path.exists(version_file):
        with open(version_file, encoding="utf-8") as handle:
            text = handle.read()
    else:
        ini = configparser.ConfigParser(interpolation=None)
        with open(os.path.join(folder, "k2.ini"), encoding="cp1250") as handle:
            ini.read_file(handle)
        text = ini.get("K2", "VERSION")
    return lab_installer.version_name(lab_installer.parse_version(text))
