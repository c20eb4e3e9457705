"""The support bundle: logs, the batch and the profile -- and never a secret."""

from __future__ import annotations

import json
import zipfile

from certline.app.security.redaction import register_secret
from certline.app.station.support_bundle import write_support_bundle
from certline.ui.plumbing.worker import pending_tasks
from certline.ui.station.commands import save_support_bundle


def test_bundle_holds_logs_batch_and_profile_without_secrets(qtbot, window, station):
    secret = "passcode-do-not-leak-42"
    register_secret(secret)
    station.paths.logs.mkdir(parents=True, exist_ok=True)
    (station.paths.logs / "certline.log").write_text(f"INFO something with {secret} inside\n")
    with qtbot.waitSignal(window.summary_shown, timeout=20_000) as shown:
        window.station_actions.start.trigger()
    shown.args[0].close()
    target = station.paths.data / "bundle.zip"
    save_support_bundle(window, target)
    qtbot.waitUntil(lambda: target.exists() and pending_tasks() == 0, timeout=10_000)
    with zipfile.ZipFile(target) as bundle:
        names = set(bundle.namelist())
        texts = {name: bundle.read(name).decode() for name in names}
    batch_file = f"batch-{window.controller.batch_id}.json"
    assert {"about.json", "profile.json", batch_file, "logs/certline.log"} <= names
    assert json.loads(texts["profile.json"])["name"] == "line-1"
    assert len(json.loads(texts[batch_file])["devices"]) == 4
    assert all(secret not in text for text in texts.values())
    assert "[REDACTED]" in texts["logs/certline.log"]
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_bundle_without_a_batch_or_logs(station, tmp_path):
    path = write_support_bundle(
        tmp_path / "b.zip",
        logs_dir=tmp_path / "nologs",
        journal=station.session.journal,
        profile=station.profile,
        batch_id=None,
    )
    with zipfile.ZipFile(path) as bundle:
        assert set(bundle.namelist()) == {"about.json", "profile.json"}


def test_bundle_records_the_native_library_versions(station, tmp_path):
    import sqlite3
    import ssl

    path = write_support_bundle(
        tmp_path / "b.zip",
        logs_dir=tmp_path / "nologs",
        journal=station.session.journal,
        profile=station.profile,
        batch_id=None,
    )
    with zipfile.ZipFile(path) as bundle:
        components = json.loads(bundle.read("about.json"))["components"]
    assert components["sqlite"] == sqlite3.sqlite_version
    assert components["openssl (Python ssl)"] == ssl.OPENSSL_VERSION
    assert components["qt"].endswith("(PySide6 " + components["qt"].split("(PySide6 ")[1])  # loaded here
    assert "loaded" in components["qt"] and "not loaded" not in components["qt"]
