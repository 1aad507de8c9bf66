"""Where the lab keeps its PostgreSQL cluster: one folder per lab folder, outside it, cleaned when the lab is gone."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.k2lab import cluster  # noqa: E402


@pytest.fixture
def pg_root(tmp_path, monkeypatch):
    root = tmp_path / "pg-root"
    monkeypatch.setenv("K2LAB_PG_ROOT", str(root))
    return root


def test_a_lab_folder_always_gets_the_same_cluster_folder_and_another_a_different_one(pg_root, tmp_path):
    lab = tmp_path / "my work" / ".lab"
    lab.mkdir(parents=True)
    home = cluster.cluster_home(str(lab))
    assert home == cluster.cluster_home(str(tmp_path / "my work" / "." / ".lab"))
    assert os.path.dirname(home) == str(pg_root)
    assert " " not in home
    assert home != cluster.cluster_home(str(tmp_path / "other" / ".lab"))


def test_orphans_are_removed_and_live_or_foreign_folders_are_kept(pg_root, tmp_path):
    live_lab, gone_lab = tmp_path / "live", tmp_path / "gone"
    live_lab.mkdir()
    for lab in (live_lab, gone_lab):
        home = cluster.cluster_home(str(lab))
        os.makedirs(os.path.join(home, "data"))
        with open(os.path.join(home, cluster.OWNER_FILE), "w", encoding="utf-8") as handle:
            handle.write(str(lab))
    foreign = pg_root / "not-a-lab"
    foreign.mkdir()
    removed = cluster.collect_orphans()
    assert removed == [cluster.cluster_home(str(gone_lab))]
    assert sorted(os.listdir(pg_root)) == sorted([os.path.basename(cluster.cluster_home(str(live_lab))), "not-a-lab"])


def test_a_cluster_root_with_spaces_is_refused_before_anything_is_made(tmp_path, monkeypatch):
    root = tmp_path / "with space"
    monkeypatch.setenv("K2LAB_PG_ROOT", str(root))
    with pytest.raises(cluster.LabError, match="must not contain spaces"):
        cluster._make_pg_root(cluster.pg_root())
    assert not root.exists()
