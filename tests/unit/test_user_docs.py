"""What users read: the README lists every page of docs/, links resolve, every role has a README, and no text
shipped to users points to a document they do not have (the vendors' originals or this project's own notes)."""

import glob
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Documents a user of the collection does not have; the steps are explained in docs/runbook.md.
ABSENT = re.compile(r"\b[Ss]eed(?:'s|s)?\b|\bRUNBOOK\b|FACTS\.md|DESIGN\.md")


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _shipped_texts():
    patterns = ["README.md", "docs/*.md", "roles/*/README.md", "roles/*/*/*.yml", "roles/*/templates/*",
                "playbooks/*.yml", "playbooks/templates/*", "changelogs/fragments/*.yml", "extras/*/*", "extras/*/*/*",
                "inventories/example/*.*", "inventories/example/*/*/*.yml", "meta/*.yml", "plugins/modules/*.py"]
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(REPO, pattern))):
            if os.path.isfile(path) and not os.path.basename(path).startswith("lab_"):
                yield os.path.relpath(path, REPO)


def test_the_readme_lists_every_page_of_docs():
    documentation = _read(os.path.join(REPO, "README.md")).split("## Documentation", 1)[1].split("\n## ", 1)[0]
    pages = sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "*.md")))
    assert [page for page in pages if "(%s)" % page not in documentation] == []


@pytest.mark.parametrize("document", ["README.md", "CONTRIBUTING.md"] + sorted(
    os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "*.md")) + glob.glob(os.path.join(REPO, "roles", "*", "README.md"))))
def test_relative_links_resolve(document):
    text = _read(os.path.join(REPO, document))
    links = [target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in target]
    broken = [link for link in links if link and not os.path.exists(os.path.join(REPO, os.path.dirname(document), link))]
    assert broken == []


def test_every_role_has_a_readme():
    roles = sorted(os.listdir(os.path.join(REPO, "roles")))
    assert [role for role in roles if not os.path.isfile(os.path.join(REPO, "roles", role, "README.md"))] == []


def test_no_text_for_users_points_to_a_document_they_do_not_have():
    found = []
    for path in _shipped_texts():
        for number, line in enumerate(_read(os.path.join(REPO, path)).splitlines(), 1):
            if ABSENT.search(line) and "drift_seed" not in line:
                found.append("%s:%d: %s" % (path, number, line.strip()[:120]))
    assert found == []
