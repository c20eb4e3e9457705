"""``certline journal ...``, ``audit verify --journal`` and the URL rules, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from certline.app.batch.journal import Journal

from .test_journal_backends import _walk_to_done

CLI = [sys.executable, "-m", "certline.app.cli.main"]


@pytest.fixture
def station_env(tmp_path, pg_cluster):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLINE_")}
    env["CERTLINE_HOME"] = str(tmp_path / "home")
    env["CERTLINE_STATION"] = "st-old"
    env["DBPW"] = pg_cluster.password
    return env


def certline(env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_station_history_is_imported_once_and_its_audit_chain_still_verifies(tmp_path, pg_url, station_env):
    source = tmp_path / "old.sqlite3"
    old = Journal(source, station="st-old")
    batch = old.create_batch(profile_name="p", profile_json={}, work_order="W")
    dev = _walk_to_done(old, batch, "SN-OLD")
    waiting_key = old.mes_pending("http")[0].key  # its MES record was never posted
    old.mes_mark_delivered(waiting_key, "folder")
    assert old.reserve_passcode_use("dtm-line-1", dev, max_uses=10)
    old.settle_passcode_use("dtm-line-1", dev, issued=True)
    old.close()
    pw = ["--journal", pg_url, "--journal-password-env", "DBPW"]

    first = certline(station_env, "journal", "import", "--from", str(source), *pw)
    assert first.returncode == 0, first.stderr
    assert "imported 1 batches, 1 devices" in first.stdout
    again = certline(station_env, "journal", "import", "--from", str(source), *pw)
    assert again.returncode == 0 and "already imported" in again.stdout

    other = dict(station_env, CERTLINE_STATION="st-new")
    status = certline(other, "batch", "status", *pw)
    assert status.returncode == 0 and status.stdout.count("[st-old]") == 1  # one batch, not two
    audit = certline(other, "audit", "verify", *pw)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "chain intact (station st-old)" in audit.stdout

    from certline.app.batch.journal_api import UnitDoneElsewhere
    from certline.app.batch.journal_pg import PgJournal

    shared = PgJournal(pg_url, station="st-new", password=station_env["DBPW"])
    try:
        with pytest.raises(UnitDoneElsewhere, match="station st-old"):
            shared.claim_unit("p", "SN-OLD")  # the imported DONE unit is refused line-wide
        assert shared.mes_pending("http") == []  # another station's records are not st-new's
        usage = shared.passcode_usage("dtm-line-1")  # what the station spent counts for the line
        assert (usage.issued, usage.in_flight) == (1, 0)
    finally:
        shared.close()
    moved = PgJournal(pg_url, station="st-old", password=station_env["DBPW"])
    try:  # the station that wrote it delivers it from the shared journal, same key, same channel state
        assert [r.key for r in moved.mes_pending("http")] == [waiting_key]
        assert moved.mes_pending("folder") == []
    finally:
        moved.close()


def test_a_broken_chain_is_reported_per_station(pg_url, pg_cluster, station_env):
    pw = ["--journal", pg_url, "--journal-password-env", "DBPW"]
    assert certline(station_env, "journal", "migrate", *pw).returncode == 0
    from certline.app.batch.journal_pg import PgJournal

    for name in ("st-a", "st-b"):
        journal = PgJournal(pg_url, station=name, password=pg_cluster.password)
        journal.create_batch(profile_name="p", profile_json={})
        journal.close()
    import psycopg

    with psycopg.connect(pg_url, password=pg_cluster.password, autocommit=True) as conn:
        conn.execute("UPDATE audit SET kind='forged' WHERE station='st-b'")
    audit = certline(station_env, "audit", "verify", *pw)
    assert audit.returncode == 1
    assert "chain intact (station st-a)" in audit.stdout
    assert "BROKEN (1 records, station st-b)" in audit.stdout


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:secret@db.example:5432/line", "must not contain a password"),
        ("postgresql://u@db.example:5432/line", "sslmode=verify-full"),
        ("postgresql://u@db.example:5432/line?sslmode=require", "does not verify"),
        ("postgresql://u@127.0.0.1:5432/line?password=secret", "password"),
    ],
)
def test_unsafe_journal_urls_are_refused_without_echoing_the_password(url, message, station_env):
    result = certline(station_env, "batch", "status", "--journal", url)
    assert result.returncode == 2
    assert message in result.stderr
    assert "secret" not in result.stdout + result.stderr


def test_the_password_is_not_accepted_as_an_argument(station_env):
    result = certline(station_env, "batch", "run", "--help")
    assert "--journal-password-env" in result.stdout and "--journal-password " not in result.stdout


def test_the_database_password_is_taken_from_the_keyring_and_never_shown(
    pg_url, pg_cluster, memory_keyring, monkeypatch, capsys
):
    import io

    from certline.app.cli.main import main

    monkeypatch.setattr("sys.stdin", io.StringIO("wrong-password-xyz\n"))
    assert main(["journal", "set-password", "--journal", pg_url]) == 0
    assert main(["journal", "test", "--journal", pg_url]) == 2  # the wrong password is refused
    monkeypatch.setattr("sys.stdin", io.StringIO(pg_cluster.password + "\n"))
    assert main(["journal", "set-password", "--journal", pg_url]) == 0
    assert main(["journal", "test", "--journal", pg_url]) == 0
    out = capsys.readouterr()
    assert "reachable" in out.out
    assert pg_cluster.password not in out.out + out.err
    assert "wrong-password-xyz" not in out.out + out.err
    assert list(memory_keyring.entries.values()) == [pg_cluster.password]


def test_the_station_settings_select_the_shared_journal_and_the_station_name(
    tmp_path, pg_url, station_env, monkeypatch
):
    import json

    from certline.app.config.paths import station_paths

    monkeypatch.setenv("CERTLINE_HOME", station_env["CERTLINE_HOME"])
    settings = station_paths().settings
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"journal_url": pg_url, "station_name": "st-set"}), encoding="utf-8")
    env = {k: v for k, v in station_env.items() if k != "CERTLINE_STATION"}
    source = tmp_path / "set.sqlite3"
    Journal(source).close()

    tested = certline(env, "journal", "test", "--journal-password-env", "DBPW")
    assert tested.returncode == 0 and pg_url in tested.stdout, tested.stderr
    imported = certline(env, "journal", "import", "--from", str(source), "--journal-password-env", "DBPW")
    assert imported.returncode == 0 and "as station st-set" in imported.stdout, imported.stderr
