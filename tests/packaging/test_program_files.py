"""certline.app.host.program_files: which upgrades of the running program are noticed (Qt-free)."""

from __future__ import annotations

import os
import sys

from certline.app.host.program_files import ProgramFiles, frozen_program_paths


def test_unchanged_files_are_not_reported(tmp_path):
    path = tmp_path / "certline"
    path.write_bytes(b"v1")
    assert ProgramFiles([path]).replaced() == []


def test_a_file_renamed_over_the_old_one_is_reported(tmp_path):
    """dpkg unpacks beside the old file and renames over it: same size, same mtime possible."""
    path = tmp_path / "certline"
    path.write_bytes(b"v1")
    files = ProgramFiles([path])
    new = tmp_path / "certline.dpkg-new"
    new.write_bytes(b"v2")
    st = os.stat(path)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(new, path)
    assert files.replaced() == [path]


def test_a_file_rewritten_in_place_or_removed_is_reported(tmp_path):
    rewritten, removed, kept = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for path in (rewritten, removed, kept):
        path.write_bytes(b"v1")
    files = ProgramFiles([rewritten, removed, kept])
    rewritten.write_bytes(b"version 2, longer")
    removed.unlink()
    assert files.replaced() == [rewritten, removed]


def test_a_frozen_build_watches_its_executable_and_base_library(tmp_path, monkeypatch):
    exe = tmp_path / "certline"
    exe.write_bytes(b"elf")
    (tmp_path / "_internal").mkdir()
    (tmp_path / "_internal" / "base_library.zip").write_bytes(b"zip")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert frozen_program_paths() == [exe, tmp_path / "_internal" / "base_library.zip"]


def test_a_source_tree_watches_nothing():
    assert not getattr(sys, "frozen", False)
    assert frozen_program_paths() == []
    assert not ProgramFiles().watching
