"""The audit head checkpoint file: two slots overwritten in place, alternately.

What a station relies on: after any write the newest head is read back; a write torn by a
power cut (one slot garbled) still leaves the previous head readable, so verification sees an
older, consistent checkpoint instead of an "unreadable" head; and head files written by earlier
Certline versions (one JSON object) are still read and upgraded on the next write.
"""

from __future__ import annotations

import json

from certline.app.batch.audit import read_head_file, write_head_file


def test_each_write_is_read_back_and_the_two_slots_alternate(tmp_path):
    path = tmp_path / "journal.audit-head"
    write_head_file(path, 1, "a" * 64)
    assert read_head_file(path) == (1, "a" * 64)
    size = path.stat().st_size
    for seq in range(2, 7):
        write_head_file(path, seq, f"{seq:x}" * 64)
        assert read_head_file(path) == (seq, f"{seq:x}" * 64)
    assert path.stat().st_size == size, "written in place, the file never grows"
    data = path.read_bytes()
    halves = {data[: len(data) // 2].split()[1], data[len(data) // 2 :].split()[1]}
    assert halves == {b"%020d" % 5, b"%020d" % 6}, "the newest two heads, one per slot"


def test_a_torn_slot_leaves_the_previous_head_readable(tmp_path):
    path = tmp_path / "head"
    write_head_file(path, 10, "b" * 64)
    write_head_file(path, 11, "c" * 64)
    data = bytearray(path.read_bytes())
    newest_at = 0 if b"%020d" % 11 in data[:128] else 128
    data[newest_at + 40 : newest_at + 60] = b"\0" * 20  # the write of head 11 was cut short
    path.write_bytes(bytes(data))
    assert read_head_file(path) == (10, "b" * 64)
    write_head_file(path, 12, "d" * 64)  # the next write goes over the torn slot
    assert read_head_file(path) == (12, "d" * 64)


def test_garbage_is_unreadable_not_a_head(tmp_path):
    path = tmp_path / "head"
    path.write_bytes(b"x" * 256)
    assert read_head_file(path) is None
    path.write_text("{not json", encoding="utf-8")
    assert read_head_file(path) is None


def test_a_head_file_of_the_first_format_is_read_and_upgraded(tmp_path):
    path = tmp_path / "head"
    path.write_text(json.dumps({"seq": 41, "hash": "e" * 64}), encoding="utf-8")
    assert read_head_file(path) == (41, "e" * 64)
    write_head_file(path, 42, "f" * 64)
    assert read_head_file(path) == (42, "f" * 64)
    assert not path.read_bytes().startswith(b"{")
    write_head_file(path, 43, "0" * 64)
    assert read_head_file(path) == (43, "0" * 64)
