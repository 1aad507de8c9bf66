"""extras/ee/execution-environment.yml: ansible-builder creates the build context, which names every dependency."""

import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EE_FILE = os.path.join(REPO, "extras", "ee", "execution-environment.yml")
BUILDER = shutil.which("ansible-builder", path=os.path.dirname(sys.executable)) or shutil.which("ansible-builder")


def requirement_names(path):
    names = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower())
    return names


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    if BUILDER is None:
        pytest.skip("ansible-builder is not installed (requirements-dev.txt)")
    out = tmp_path_factory.mktemp("ee-context")
    done = subprocess.run([BUILDER, "create", "-f", EE_FILE, "-c", str(out), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "Containerfile", encoding="utf-8") as handle:
        containerfile = handle.read()
    return {"dir": out, "containerfile": containerfile, "output": done.stdout}


def test_create_produces_a_build_context(context):
    assert "Complete! The build context can be found at" in context["output"]
    for name in ("requirements.txt", "bindep.txt", "requirements.yml", "scripts/assemble"):
        assert (context["dir"] / "_build" / name).is_file(), name


def test_every_runtime_python_requirement_is_in_the_image(context):
    in_image = requirement_names(context["dir"] / "_build" / "requirements.txt")
    assert requirement_names(os.path.join(REPO, "requirements.txt")) <= in_image
    assert {"pypsrp", "pywinrm"} <= in_image  # both Windows transports


def test_system_packages_and_collections(context):
    bindep = (context["dir"] / "_build" / "bindep.txt").read_text(encoding="utf-8")
    for package in ("unixODBC", "unixODBC-devel", "gcc-c++", "krb5-libs", "ca-certificates"):
        assert re.search(r"^%s \[" % re.escape(package), bindep, re.MULTILINE), package
    collections = (context["dir"] / "_build" / "requirements.yml").read_text(encoding="utf-8")
    assert "ansible.windows" in collections and "community.windows" in collections


def test_mssql_driver_is_odbc18_from_microsofts_repo_for_the_base_os_with_freetds_fallback(context):
    containerfile = context["containerfile"]
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in containerfile
    final = containerfile.split("FROM base AS final", 1)[1]
    assert "ARG ERPOPS_MSSQL_ODBC=msodbcsql18" in final
    assert "https://packages.microsoft.com/config/rhel/9/prod.repo" in final
    assert "ACCEPT_EULA=Y $PKGMGR install -y msodbcsql18" in final
    assert "install -y freetds" in final and "odbcinst -i -d" in final


def test_ansible_core_matches_the_development_pin(context):
    assert 'ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20' in context["containerfile"]
    with open(os.path.join(REPO, "requirements-dev.txt"), encoding="utf-8") as handle:
        assert "ansible-core>=2.19,<2.20" in handle.read()
    assert 'ARG PYCMD="/usr/bin/python3.11"' in context["containerfile"]
