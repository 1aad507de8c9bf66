# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The K2 folder is part of the backup (runbook K2-12: "a backup taken before the checks means the old K2
files must be restored too").

Before the install the whole folder (its ini files, the files the site added or changed,
the old K2) is copied on the K2 host, by default beside the folder. The copy is written
under a ``.partial`` name, checked file by file against the folder (a listing of relative
path, size and SHA-256 on both sides), and only then renamed to its final name and
recorded in the site's backup manifest as an entry of ``kind: folder``:

``{"kind": "folder", "database": null, "code": null, "folder": <the K2 folder>, "file": <the copy>, "k2_version": <version
in the folder>, "taken_at", "run_id", "position": "before_install", "files": <count>,
"size": <bytes>, "checksum": <SHA-256 of the listing>, "checksum_kind": "listing-sha256",
"verified": true, "message": null}``

Database entries have no ``kind`` (or ``kind: database``); readers of database entries skip
folder entries (``backup.database_entries``).

A restore copies the backup into a stage beside the folder, checks it against the entry's
listing checksum, then swaps: the current folder is renamed aside (kept, named in the
result) and the stage takes its name. ``version_mismatch`` says when databases restored
alone would be at another version than the folder.

Pure: the programs that run on the K2 host are text here (POSIX: Python; Windows:
PowerShell built by ``powershell_program``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_version

KIND = "folder"
POSITION = "before_install"


def new_entry(folder: str, copy: str, version: Optional[str], run_id: Optional[str], taken_at: datetime,
              listing: Mapping[str, Any]) -> Dict[str, Any]:
    # database and code are null: readers of database entries that do not look at kind still find the keys.
    return {"kind": KIND, "database": None, "code": None, "folder": folder, "file": copy, "k2_version": version, "run_id": run_id, "position": POSITION,
            "taken_at": taken_at.astimezone(timezone.utc).isoformat(timespec="seconds"), "files": listing["files"],
            "size": listing["size"], "checksum": listing["checksum"], "checksum_kind": "listing-sha256", "verified": True,
            "message": None}


def entries(manifest: Mapping[str, Any], folder: Optional[str] = None, run_id: Optional[str] = None) -> List[Mapping[str, Any]]:
    """Verified folder entries (of ``folder`` / ``run_id`` when given), oldest first."""
    return [e for e in manifest.get("entries", []) if e.get("kind") == KIND and e.get("verified")
            and (folder is None or e.get("folder") == folder) and (run_id is None or e.get("run_id") == run_id)]


def latest(manifest: Mapping[str, Any], folder: Optional[str] = None, run_id: Optional[str] = None) -> Optional[Mapping[str, Any]]:
    found = entries(manifest, folder, run_id)
    return max(found, key=lambda e: e["taken_at"]) if found else None


def copy_name(folder_leaf: str, taken_at: datetime, run_id: Optional[str]) -> str:
    stamp = taken_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in (run_id or ""))
    return "%s.erpops-backup-%s%s" % (folder_leaf, stamp, "-" + safe if safe else "")


def version_mismatch(database_entries: Sequence[Mapping[str, Any]], folder_version: Optional[str]) -> Optional[str]:
    """A warning when databases restored alone are at another version than the K2 folder (or None)."""
    if not folder_version:
        return None
    other = []
    for entry in database_entries:
        version = entry.get("k2_version")
        try:
            if version and not k2_version.same_version(version, folder_version):
                other.append("%s (%s)" % (entry.get("database"), version))
        except k2_version.VersionError:
            other.append("%s (%s)" % (entry.get("database"), version))
    if not other:
        return None
    return ("the databases are restored to another version than the K2 folder holds (%s): %s. K2 will not run on them; restore the "
            "K2 folder too (k2_restore_folder=true, from the folder backup of the same run), or reinstall (K2-13)"
            % (folder_version, ", ".join(other)))


#: The K2 host's program on POSIX: ``program MODE SOURCE TARGET [CHECKSUM]``; prints one JSON line.
#: backup: copy SOURCE to TARGET.partial, compare listings, rename to TARGET.
#: restore: copy SOURCE (the backup) to a stage beside TARGET, check CHECKSUM, rename TARGET aside, stage to TARGET.
POSIX_PROGRAM = r'''
import hashlib, json, os, shutil, sys, time
mode, source, target = sys.argv[1:4]
expected = sys.argv[4] if len(sys.argv) > 4 else ""
def listing(root):
    rows, size = [], 0
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if os.path.islink(path):
                rows.append("%s\tlink\t%s" % (rel, os.readlink(path)))
                continue
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            size += os.path.getsize(path)
            rows.append("%s\t%d\t%s" % (rel, os.path.getsize(path), h.hexdigest()))
    text = "\n".join(rows)
    return {"files": len(rows), "size": size, "checksum": hashlib.sha256(text.encode("utf-8")).hexdigest()}
def answer(**data):
    print(json.dumps(data))
    sys.exit(1 if data.get("failed") else 0)
if not os.path.isdir(source):
    answer(failed=True, msg="%s is not a folder" % source)
if mode == "backup":
    partial = target + ".partial"
    if os.path.lexists(partial):
        shutil.rmtree(partial)
    if os.path.lexists(target):
        answer(failed=True, msg="%s exists already; nothing was written" % target)
    try:
        shutil.copytree(source, partial, symlinks=True)
        have, copied = listing(source), listing(partial)
        if have != copied:
            raise RuntimeError("the copy differs from the folder (%s files, %s in the copy): was K2 running?" % (have["files"], copied["files"]))
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        answer(failed=True, msg="folder backup failed, nothing kept: %s" % exc)
    os.rename(partial, target)
    answer(**dict(copied, copy=target))
if mode == "restore":
    parent, leaf = os.path.split(target.rstrip("/"))
    stage = os.path.join(parent, "." + leaf + ".erpops-restore")
    aside = os.path.join(parent, "%s.erpops-replaced-%s" % (leaf, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    if os.path.lexists(stage):
        shutil.rmtree(stage)
    try:
        shutil.copytree(source, stage, symlinks=True)
        got = listing(stage)
        if expected and got["checksum"] != expected:
            raise RuntimeError("the folder backup %s does not match its manifest entry (listing checksum %s, expected %s)"
                               % (source, got["checksum"], expected))
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        answer(failed=True, msg="folder restore failed, the K2 folder is unchanged: %s" % exc)
    if os.path.lexists(target):
        os.rename(target, aside)
    else:
        aside = None
    try:
        os.rename(stage, target)
    except BaseException as exc:
        if aside:
            os.rename(aside, target)
        answer(failed=True, msg="folder restore failed at the swap, the K2 folder is unchanged: %s" % exc)
    answer(**dict(got, replaced_kept_as=aside))
if mode == "listing":
    answer(**listing(source))
answer(failed=True, msg="unknown mode %s" % mode)
'''


def powershell_program(mode: str, source: str, target: str, expected: str, quote) -> str:
    """The same on Windows: robocopy /MIR into a partial or stage folder, a listing of Get-FileHash, renames."""
    return "\n".join([
        "$ErrorActionPreference = 'Stop'",
        "$mode = %s; $source = %s; $target = %s; $expected = %s" % (quote(mode), quote(source), quote(target), quote(expected)),
        "function Get-Listing([string]$root) {",
        "  $rows = @(); $size = 0",
        "  Get-ChildItem -LiteralPath $root -Recurse -File -Force | Sort-Object FullName | ForEach-Object {",
        "    $rel = $_.FullName.Substring($root.TrimEnd('\\').Length + 1).Replace('\\', '/')",
        "    $size += $_.Length",
        "    $rows += ('{0}`t{1}`t{2}' -f $rel, $_.Length, (Get-FileHash -Algorithm SHA256 -LiteralPath $_.FullName).Hash.ToLower())",
        "  }",
        "  $bytes = [Text.Encoding]::UTF8.GetBytes(($rows -join \"`n\"))",
        "  $sum = -join ([Security.Cryptography.SHA256]::Create().ComputeHash($bytes) | ForEach-Object { $_.ToString('x2') })",
        "  @{files = $rows.Count; size = $size; checksum = $sum}",
        "}",
        "function Copy-Tree([string]$from, [string]$to) {",
        "  robocopy $from $to /MIR /COPY:DAT /DCOPY:T /R:1 /W:1 /NFL /NDL /NJH /NJS | Out-Null",
        "  if ($LASTEXITCODE -ge 8) { throw \"robocopy failed with exit code $LASTEXITCODE\" }",
        "}",
        "if (-not (Test-Path -LiteralPath $source -PathType Container)) {",
        "  ConvertTo-Json -Compress @{failed = $true; msg = \"$source is not a folder\"}; exit 1",
        "}",
        "if ($mode -eq 'backup') {",
        "  $partial = $target + '.partial'",
        "  if (Test-Path -LiteralPath $partial) { Remove-Item -LiteralPath $partial -Recurse -Force }",
        "  if (Test-Path -LiteralPath $target) { ConvertTo-Json -Compress @{failed = $true; msg = \"$target exists already; nothing was written\"}; exit 1 }",
        "  try {",
        "    Copy-Tree $source $partial",
        "    $have = Get-Listing $source; $copied = Get-Listing $partial",
        "    if ($have.checksum -ne $copied.checksum) { throw 'the copy differs from the folder: was K2 running?' }",
        "  } catch {",
        "    if (Test-Path -LiteralPath $partial) { Remove-Item -LiteralPath $partial -Recurse -Force }",
        "    ConvertTo-Json -Compress @{failed = $true; msg = \"folder backup failed, nothing kept: $_\"}; exit 1",
        "  }",
        "  Rename-Item -LiteralPath $partial -NewName (Split-Path -Leaf $target)",
        "  $copied['copy'] = $target; ConvertTo-Json -Compress $copied; exit 0",
        "}",
        "if ($mode -eq 'restore') {",
        "  $parent = Split-Path -Parent $target; $leaf = Split-Path -Leaf $target",
        "  $stage = Join-Path $parent ('.' + $leaf + '.erpops-restore')",
        "  $aside = Join-Path $parent ($leaf + '.erpops-replaced-' + (Get-Date).ToUniversalTime().ToString('yyyyMMddTHHmmssZ'))",
        "  if (Test-Path -LiteralPath $stage) { Remove-Item -LiteralPath $stage -Recurse -Force }",
        "  try {",
        "    Copy-Tree $source $stage",
        "    $got = Get-Listing $stage",
        "    if ($expected -and $got.checksum -ne $expected) { throw \"the folder backup does not match its manifest entry\" }",
        "  } catch {",
        "    if (Test-Path -LiteralPath $stage) { Remove-Item -LiteralPath $stage -Recurse -Force }",
        "    ConvertTo-Json -Compress @{failed = $true; msg = \"folder restore failed, the K2 folder is unchanged: $_\"}; exit 1",
        "  }",
        "  if (Test-Path -LiteralPath $target) { Rename-Item -LiteralPath $target -NewName (Split-Path -Leaf $aside) } else { $aside = $null }",
        "  try { Rename-Item -LiteralPath $stage -NewName $leaf } catch {",
        "    if ($aside) { Rename-Item -LiteralPath $aside -NewName $leaf }",
        "    ConvertTo-Json -Compress @{failed = $true; msg = \"folder restore failed at the swap, the K2 folder is unchanged: $_\"}; exit 1",
        "  }",
        "  $got['replaced_kept_as'] = $aside; ConvertTo-Json -Compress $got; exit 0",
        "}",
        "ConvertTo-Json -Compress (Get-Listing $source)",
    ])
