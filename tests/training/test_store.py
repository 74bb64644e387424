import os

from thinfile.training.registry import use_store
from thinfile.training.settings import tracking_uri


def test_the_store_follows_thinfile_home_after_mlflow_was_pointed_at_another(tmp_path, monkeypatch):
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path / "a"))
    first = use_store()
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path / "b"))
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert use_store() != first and str(tmp_path / "b") in tracking_uri()


def test_a_tracking_uri_set_by_the_user_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/team.db")
    assert use_store(create=True) == f"sqlite:///{tmp_path}/team.db"
    assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path}/team.db"
