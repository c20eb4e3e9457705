"""The drop folder: one complete file per record, never a partial one, nothing lost on a full disk."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from certline.app.batch.journal import Journal
from certline.app.mes import drop_folder
from certline.app.mes.config import MesConfig
from certline.app.mes.delivery import MesDelivery
from certline.app.mes.drop_folder import DropFolderError, write_record
from tests.journal.test_journal_backends import _walk_to_done


def test_the_file_appears_complete_under_its_key_only_after_it_was_synced(tmp_path, monkeypatch):
    seen: list[tuple[list[str], bytes]] = []
    synced: list[int] = []
    real_replace, real_fsync = os.replace, os.fsync

    def watching_replace(src, dst):  # what a MES picker could see just before the rename
        seen.append((sorted(p.name for p in tmp_path.glob("*.json")), Path(src).read_bytes()))
        assert synced, "renamed before the data was on disk"
        real_replace(src, dst)

    def counting_fsync(fd):
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(drop_folder.os, "replace", watching_replace)
    monkeypatch.setattr(drop_folder.os, "fsync", counting_fsync)
    body = json.dumps({"idempotency_key": "k-1", "serial": "Ünit-1"}, ensure_ascii=False)
    path = write_record(tmp_path, "k-1", body)
    assert seen == [([], body.encode())]  # no *.json visible before the rename, temp file complete
    assert path == tmp_path / "k-1.json" and path.read_text(encoding="utf-8") == body
    assert len(synced) == 2  # the file, then the folder (so the rename survives a power cut)
    assert [p.name for p in tmp_path.iterdir()] == ["k-1.json"]  # no temp file left


def test_a_full_disk_leaves_no_file_at_all_and_says_which_folder(tmp_path, monkeypatch):
    def full(_fd, _data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(drop_folder.os, "write", full)
    with pytest.raises(DropFolderError, match=f"{tmp_path}.*No space left"):
        write_record(tmp_path, "k-2", "{}")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_an_error_not_a_new_folder(tmp_path):
    with pytest.raises(DropFolderError, match="does not exist"):
        write_record(tmp_path / "gone", "k-3", "{}")
    assert not (tmp_path / "gone").exists()


def test_delivery_writes_one_file_per_unit_and_keeps_records_while_the_folder_is_gone(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3", station="st-1")
    batch = journal.create_batch(profile_name="p", profile_json={})
    for serial in ("A", "B"):
        _walk_to_done(journal, batch, serial)
    folder = tmp_path / "mes-drop"
    delivery = MesDelivery(journal, MesConfig(drop_folder=folder))
    delivery.deliver_round(ignore_backoff=True)
    assert delivery.status.waiting == 2 and "does not exist" in (delivery.status.last_error or "")
    folder.mkdir()  # the share is mounted again
    delivery.deliver_round(ignore_backoff=True)
    assert delivery.status.waiting == 0
    files = sorted(folder.glob("*.json"))
    records = [json.loads(p.read_text(encoding="utf-8")) for p in files]
    assert sorted(r["serial"] for r in records) == ["A", "B"]
    assert all(p.stem == r["idempotency_key"] for p, r in zip(files, records, strict=True))
    delivery.close()
    journal.close()
