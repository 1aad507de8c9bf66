"""The collection as users get it: the built tarball, checked as Galaxy and ansible-builder check it.

The tarball is built by scripts/build-collection.sh (ansible-galaxy collection build, with galaxy.yml's
build_ignore). Its members are held against an allow-list, galaxy-importer imports it as Galaxy and Automation Hub
do (with ansible-doc and ansible-lint, which must not be skipped), and ansible-builder introspects the installed
collection as an execution environment that includes it would.
"""

import fnmatch
import glob
import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

# Every file of the tarball must match one of these (fnmatch: `*` also crosses folders).
ALLOWED = [
    "MANIFEST.json", "FILES.json", "README.md", "LICENSE", "COPYING", "requirements.txt", "bindep.txt",
    "meta/runtime.yml", "meta/execution-environment.yml",
    "plugins/*.py", "plugins/filter/*.yml", "plugins/test/*.yml",  # filter and test plugins document themselves in YAML
    "roles/*/README.md", "roles/*/defaults/main.yml", "roles/*/vars/main.yml", "roles/*/meta/*.yml",
    "roles/*/tasks/*.yml", "roles/*/handlers/*.yml", "roles/*/templates/*.j2", "roles/*/files/*",
    "playbooks/*.yml", "playbooks/templates/*.j2",
    "docs/*.md",
    "changelogs/changelog.yaml", "changelogs/config.yaml", "changelogs/fragments/*.yml",
    "extras/awx/*.md", "extras/awx/*.yml", "extras/awx/surveys/*.json", "extras/ee/execution-environment.yml",
    "inventories/example/*",
]
# ... and none of these, which the patterns above would let through.
DENIED = ["playbooks/lab_*", "*/__pycache__/*", "*.pyc", "*/.pytest_cache/*"]


def _run(argv, cwd=None, **env_extra):
    env = dict(os.environ, PATH=os.pathsep.join([BIN, os.environ.get("PATH", "")]), **env_extra)
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env, timeout=600)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("collection")
    built = _run([os.path.join(REPO, "scripts", "build-collection.sh"), str(out)])
    assert built.returncode == 0, built.stdout + built.stderr
    path = built.stdout.strip().splitlines()[-1]
    assert os.path.isfile(path), built.stdout
    return path


@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(tarball) as archive:
        return sorted(member.name for member in archive.getmembers() if member.isfile())


def test_every_member_is_allowed(members):
    strays = [name for name in members
              if not any(fnmatch.fnmatch(name, pattern) for pattern in ALLOWED)
              or any(fnmatch.fnmatch(name, pattern) for pattern in DENIED)]
    assert strays == []


def test_what_users_need_is_there(members):
    wanted = ["README.md", "LICENSE", "COPYING", "meta/runtime.yml", "meta/execution-environment.yml",
              "requirements.txt", "bindep.txt", "extras/ee/execution-environment.yml", "inventories/example/hosts.yml"]
    wanted += [os.path.relpath(path, REPO) for path in glob.glob(os.path.join(REPO, "plugins", "*", "*.py"))]
    wanted += ["roles/%s/README.md" % name for name in os.listdir(os.path.join(REPO, "roles"))]
    wanted += ["roles/%s/meta/argument_specs.yml" % name for name in os.listdir(os.path.join(REPO, "roles"))]
    wanted += [os.path.relpath(path, REPO) for path in glob.glob(os.path.join(REPO, "playbooks", "*.yml"))
               if not os.path.basename(path).startswith("lab_")]
    wanted += [os.path.relpath(path, REPO) for path in glob.glob(os.path.join(REPO, "docs", "*.md"))]
    assert sorted(set(wanted) - set(members)) == []


def test_galaxy_importer_passes_without_skipping(tarball, tmp_path):
    config = tmp_path / "galaxy-importer.cfg"
    config.write_text("[galaxy-importer]\nrun_ansible_doc = True\nrun_ansible_lint = True\nrun_ansible_test = False\n"
                      "check_changelog = True\nlog_level_main = INFO\n", encoding="utf-8")
    done = _run([sys.executable, "-m", "galaxy_importer.main", tarball], cwd=str(tmp_path),
                GALAXY_IMPORTER_CONFIG=str(config))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Importer processing completed successfully" in output, output
    complaints = [line for line in output.splitlines() if line.startswith(("ERROR", "WARNING"))]
    assert complaints == [], output  # a warning is also how the importer says it skipped ansible-doc or ansible-lint
    assert "...ansible-lint run complete" in output, output
    with open(tmp_path / "importer_result.json", encoding="utf-8") as handle:
        result = json.load(handle)
    with open(os.path.join(REPO, "meta", "runtime.yml"), encoding="utf-8") as handle:
        assert result["requires_ansible"] == yaml.safe_load(handle)["requires_ansible"]
    documented = {item["content_name"] for item in result["docs_blob"]["contents"]
                  if item["content_type"] == "module" and item.get("doc_strings")}
    modules = {os.path.basename(path)[:-3] for path in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))}
    assert documented == modules


def test_an_execution_environment_gets_the_collections_dependencies(tarball, tmp_path):
    installed = _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", tarball, "-p", str(tmp_path),
                      "--no-deps", "--offline", "--force"], cwd=str(tmp_path))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    done = _run([os.path.join(BIN, "ansible-builder"), "introspect", str(tmp_path)])
    assert done.returncode == 0, done.stdout + done.stderr
    data = yaml.safe_load(done.stdout.split("\n", 1)[1])  # the first line is a comment naming the folder
    python = {entry.split("#")[0].strip() for entry in data["python"]}
    system = {entry.split("#")[0].strip() for entry in data["system"]}
    with open(os.path.join(REPO, "requirements.txt"), encoding="utf-8") as handle:
        assert python == {line.strip() for line in handle if line.strip() and not line.startswith("#")}
    assert {"unixODBC [platform:rpm]", "unixodbc [platform:dpkg]", "tdsodbc [platform:dpkg]", "tzdata"} <= system
    # Only what the collection's code needs: nothing of the lab or the tests.
    assert not [entry for entry in python | system if "postgres" in entry.lower() or "pytest" in entry.lower()]
