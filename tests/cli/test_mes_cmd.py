"""``certline mes status|flush``: the backlog as the station's journal holds it, delivered on demand."""

from __future__ import annotations

import json

from certline.app.batch.journal import Journal
from certline.app.cli.main import main
from certline.app.config.paths import station_paths
from certline.app.config.settings import StationSettings, save_settings
from tests.journal.test_journal_backends import _walk_to_done


def _station_with_records(count: int) -> None:
    journal = Journal(station_paths().journal)
    batch = journal.create_batch(profile_name="p", profile_json={})
    for n in range(count):
        _walk_to_done(journal, batch, f"S{n}")
    journal.close()


def test_status_counts_the_backlog_and_flush_delivers_it(tmp_path, capsys):
    _station_with_records(2)
    folder = tmp_path / "drop"
    folder.mkdir()
    save_settings(StationSettings(mes_drop_folder=str(folder)))

    assert main(["mes", "status"]) == 1
    out = capsys.readouterr().out
    assert f"folder {folder}" in out and "folder: 2 waiting" in out and "http" not in out

    assert main(["mes", "flush", "--timeout", "5"]) == 0
    assert "delivered 2 record(s)" in capsys.readouterr().out
    records = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")]
    assert sorted(r["serial"] for r in records) == ["S0", "S1"]

    assert main(["mes", "status"]) == 0
    assert "folder: 0 waiting" in capsys.readouterr().out


def test_flush_without_a_configured_mes_says_so(capsys):
    _station_with_records(1)
    assert main(["mes", "flush"]) == 2
    assert "no MES configured" in capsys.readouterr().err


def test_a_plain_http_mes_elsewhere_is_refused_by_status(capsys):
    save_settings(StationSettings(mes_url="http://mes.factory.example/api"))
    assert main(["mes", "status"]) == 2
    assert "https://" in capsys.readouterr().err
