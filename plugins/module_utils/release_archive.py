# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A K2 release archive copied into a K2 folder safely (install method ``copy``; runbook K2-01 "copied K2").

Every member is judged on the controller before anything is written anywhere:

* refused: a name with a ``..`` part, an absolute name (``/x``, ``\\x``, ``C:x``), a
  symbolic or hard link, a device or other special member, a name twice (case-insensitively,
  as Windows sees it); the error names every such member;
* kept out: the site's configuration (``protected``: ``k2.ini``, ``sysk2.ini``, ``Conf/``
  by default) is never replaced by a release; such members are skipped and reported;
* the archive can be checked against a SHA-256 given by the user.

Then on the K2 host (``unpack_program`` for POSIX, ``powershell_unpack`` for Windows):
the folder is copied to a stage folder beside it, the members are written into the stage,
and the stage is swapped in by two renames (the old folder is renamed away first and put
back if the second rename fails). A failed unpack leaves the folder as it was. ``diff``
mode lists the members whose content differs from the folder, so a second run changes
nothing.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence

DEFAULT_PROTECTED = ("k2.ini", "sysk2.ini", "Conf/")
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafeArchive(ValueError):
    """The archive must not be unpacked; the message names the members."""


@dataclass(frozen=True)
class Member:
    name: str
    kind: str          # file, dir, symlink, hardlink, special
    mode: int = 0o644
    sha256: Optional[str] = None
    link: Optional[str] = None


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _zip_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if info.is_dir():
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if mode and not stat.S_ISREG(mode):
        return "special"
    return "file"


def read_members(path: str) -> List[Member]:
    """Every member of a zip or tar archive with its kind, mode and content hash (files only)."""
    if zipfile.is_zipfile(path):
        found = []
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                kind = _zip_kind(info)
                digest = hashlib.sha256(archive.read(info)).hexdigest() if kind == "file" else None
                link = archive.read(info).decode("utf-8", "replace") if kind == "symlink" else None
                found.append(Member(info.filename, kind, (info.external_attr >> 16) & 0o777 or 0o644, digest, link))
        return found
    if tarfile.is_tarfile(path):
        found = []
        with tarfile.open(path) as archive:
            for info in archive.getmembers():
                kind = ("file" if info.isfile() else "dir" if info.isdir() else "symlink" if info.issym()
                        else "hardlink" if info.islnk() else "special")
                digest = None
                if kind == "file":
                    digest = hashlib.sha256(archive.extractfile(info).read()).hexdigest()
                found.append(Member(info.name, kind, info.mode & 0o777, digest, info.linkname or None))
        return found
    raise UnsafeArchive("%s is neither a zip nor a tar archive" % path)


def _unsafe_name(name: str) -> Optional[str]:
    if not name or "\x00" in name:
        return "an empty name or a NUL byte"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "a '..' part"
    return None


def _is_protected(name: str, protected: Sequence[str]) -> bool:
    lowered = name.replace("\\", "/").lower()
    for entry in protected:
        entry = entry.replace("\\", "/").lower()
        if lowered == entry.rstrip("/") or (entry.endswith("/") and lowered.startswith(entry)):
            return True
    return False


def plan(members: Iterable[Member], protected: Sequence[str] = DEFAULT_PROTECTED) -> Dict[str, List]:
    """{"files": [Member], "skipped": [name]} or UnsafeArchive naming every refused member."""
    problems, files, skipped, seen = [], [], [], {}
    for member in members:
        reason = _unsafe_name(member.name)
        if reason is None and member.kind in ("symlink", "hardlink"):
            reason = "a %s to %r%s" % ("symbolic link" if member.kind == "symlink" else "hard link", member.link,
                                       " (it would replace the site's configuration by a link)" if _is_protected(member.name, protected)
                                       else "")
        elif reason is None and member.kind == "special":
            reason = "a device or other special file"
        if reason is None and member.kind != "dir":
            key = posixpath.normpath(member.name.replace("\\", "/")).lower()
            if key in seen:
                reason = "a second member for the same file as %r (names compared as Windows does)" % seen[key]
            seen[key] = member.name
        if reason:
            problems.append("%r: %s" % (member.name, reason))
            continue
        if member.kind == "dir":
            continue
        if _is_protected(member.name, protected):
            skipped.append(member.name)
            continue
        files.append(member)
    if problems:
        raise UnsafeArchive("the release archive holds %d unsafe member(s), nothing was written: %s" % (len(problems), "; ".join(problems)))
    return {"files": files, "skipped": skipped}


def check_sha256(actual: str, expected: Optional[str]) -> None:
    if expected and actual.lower() != expected.strip().lower():
        raise UnsafeArchive("the release archive's SHA-256 is %s, not the expected %s; nothing was written" % (actual, expected.strip()))


def plan_json(files: Sequence[Member], archive: str, dest: str, mode: str) -> str:
    """The instructions the K2 host's unpacker reads."""
    return json.dumps({"mode": mode, "archive": archive, "dest": dest,
                       "files": [{"name": m.name.replace("\\", "/"), "mode": m.mode, "sha256": m.sha256} for m in files]})


#: The POSIX unpacker, run by the host's python with the plan file as its argument. Prints JSON.
UNPACK_PROGRAM = r'''
import hashlib, json, os, shutil, sys, zipfile, tarfile
plan = json.load(open(sys.argv[1]))
dest = plan["dest"].rstrip("/")
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
def differs(item):
    path = os.path.join(dest, *item["name"].split("/"))
    return os.path.islink(path) or not os.path.isfile(path) or digest(path) != item["sha256"]
changed = [item["name"] for item in plan["files"] if differs(item)]
if plan["mode"] == "diff" or not changed:
    print(json.dumps({"changed": changed}))
    sys.exit(0)
parent, leaf = os.path.split(dest)
stage = os.path.join(parent, "." + leaf + ".erpops-new")
old = os.path.join(parent, "." + leaf + ".erpops-old")
for path in (stage, old):
    if os.path.lexists(path):
        shutil.rmtree(path)
try:
    shutil.copytree(dest, stage, symlinks=True)
    if zipfile.is_zipfile(plan["archive"]):
        archive = zipfile.ZipFile(plan["archive"])
        read = lambda name: archive.read(name)
    else:
        archive = tarfile.open(plan["archive"])
        read = lambda name: archive.extractfile(name).read()
    for item in plan["files"]:
        target = os.path.join(stage, *item["name"].split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(target) and (os.path.islink(target) or not os.path.isfile(target)):
            raise RuntimeError("%s is a link or a folder in the K2 folder; the release would replace it by a file" % item["name"])
        with open(target, "wb") as out:
            out.write(read(item["name"]))
        os.chmod(target, item["mode"])
        if digest(target) != item["sha256"]:
            raise RuntimeError("%s: written content differs from the archive's" % item["name"])
except BaseException as exc:
    shutil.rmtree(stage, ignore_errors=True)
    print(json.dumps({"failed": True, "msg": "unpack failed, the K2 folder is unchanged: %s" % exc}))
    sys.exit(1)
os.rename(dest, old)
try:
    os.rename(stage, dest)
except BaseException as exc:
    os.rename(old, dest)
    print(json.dumps({"failed": True, "msg": "swap failed, the K2 folder is unchanged: %s" % exc}))
    sys.exit(1)
shutil.rmtree(old, ignore_errors=True)
print(json.dumps({"changed": changed}))
'''


def powershell_unpack(plan_path: str, quote) -> str:
    """The same on Windows (zip archives): robocopy to the stage, ZipFile entries written, two renames. ``quote``: ps_quote."""
    return "\n".join([
        "$ErrorActionPreference = 'Stop'",
        "$plan = Get-Content -Raw -Encoding UTF8 -LiteralPath %s | ConvertFrom-Json" % quote(plan_path),
        "$dest = $plan.dest.TrimEnd('\\')",
        "$parent = Split-Path -Parent $dest; $leaf = Split-Path -Leaf $dest",
        "$stage = Join-Path $parent ('.' + $leaf + '.erpops-new'); $old = Join-Path $parent ('.' + $leaf + '.erpops-old')",
        "function Get-Sha([string]$p) {",
        "  if (Test-Path -LiteralPath $p -PathType Leaf) { (Get-FileHash -Algorithm SHA256 -LiteralPath $p).Hash.ToLower() } else { '' }",
        "}",
        "$changed = @($plan.files | Where-Object { (Get-Sha (Join-Path $dest $_.name)) -ne $_.sha256 } | ForEach-Object { $_.name })",
        "if ($plan.mode -eq 'diff' -or $changed.Count -eq 0) { ConvertTo-Json -Compress @{changed = $changed}; exit 0 }",
        "foreach ($p in @($stage, $old)) { if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Recurse -Force } }",
        "Add-Type -AssemblyName System.IO.Compression.FileSystem",
        "try {",
        "  robocopy $dest $stage /MIR /COPY:DAT /R:1 /W:1 /NFL /NDL /NJH /NJS | Out-Null",
        "  if ($LASTEXITCODE -ge 8) { throw \"robocopy failed with exit code $LASTEXITCODE\" }",
        "  $zip = [IO.Compression.ZipFile]::OpenRead($plan.archive)",
        "  try {",
        "    foreach ($item in $plan.files) {",
        "      $entry = $zip.GetEntry($item.name); $target = Join-Path $stage ($item.name -replace '/', '\\')",
        "      New-Item -ItemType Directory -Force -Path (Split-Path -Parent $target) | Out-Null",
        "      [IO.Compression.ZipFileExtensions]::ExtractToFile($entry, $target, $true)",
        "      if ((Get-Sha $target) -ne $item.sha256) { throw \"$($item.name): written content differs from the archive's\" }",
        "    }",
        "  } finally { $zip.Dispose() }",
        "} catch {",
        "  if (Test-Path -LiteralPath $stage) { Remove-Item -LiteralPath $stage -Recurse -Force }",
        "  ConvertTo-Json -Compress @{failed = $true; msg = \"unpack failed, the K2 folder is unchanged: $_\"}; exit 1",
        "}",
        "Rename-Item -LiteralPath $dest -NewName (Split-Path -Leaf $old)",
        "try { Rename-Item -LiteralPath $stage -NewName $leaf } catch {",
        "  Rename-Item -LiteralPath $old -NewName $leaf",
        "  ConvertTo-Json -Compress @{failed = $true; msg = \"swap failed, the K2 folder is unchanged: $_\"}; exit 1",
        "}",
        "Remove-Item -LiteralPath $old -Recurse -Force",
        "ConvertTo-Json -Compress @{changed = $changed}",
    ])
