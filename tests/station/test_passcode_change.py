"""The passcode use cases shared by the CLI and the window, without Qt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState
from certline.app.config.profile import Profile
from certline.app.config.profile_store import ProfileStore
from certline.app.security.secret_store import SecretStore
from certline.app.station.passcode_change import (
    PasscodeRefused,
    quota_outlook,
    set_new_passcode,
    with_current_passcode,
)

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


class _MemoryStore(SecretStore):
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def set(self, profile, purpose, value):  # type: ignore[no-untyped-def, override]
        self.values[f"{getattr(profile, 'name', profile)}/{purpose}"] = value


def _profile(**changes: object) -> Profile:
    return Profile(name="line", enroll_url="https://est.example/.well-known/est", **changes)  # type: ignore[arg-type]


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite3", station="st-1")
    yield j
    j.close()


def test_the_warning_before_a_batch_reads_as_the_line_supervisor_asked(journal):
    batch = journal.create_batch(profile_name="line", profile_json={})
    for i in range(24):
        dev = journal.add_device(batch, f"/dev/t{i}", then=[(DeviceState.IDENTIFIED, "identified")]).device_id
        journal.reserve_passcode_use("gen-7", dev, max_uses=64)
        journal.settle_passcode_use("gen-7", dev, issued=True)
    profile = _profile(passcode_id="gen-7", passcode_max_uses=64, passcode_expires="2026-12-31")
    outlook = quota_outlook(profile, journal, 64, now=NOW)
    assert outlook is not None and outlook.short and not outlook.expired
    assert outlook.message == (
        "this work order expects 64 units; the passcode has 40 uses left, and expires on "
        "2026-12-31 23:59 UTC (24 enrollments made with passcode 'gen-7' so far)"
    )
    assert not quota_outlook(profile, journal, 40, now=NOW).short  # type: ignore[union-attr]
    assert quota_outlook(_profile(passcode_id="x"), journal, None, now=NOW).message.startswith(  # type: ignore[union-attr]
        "the passcode has no usage limit recorded"
    )


def test_a_new_passcode_is_stored_in_the_keyring_and_counted_under_a_new_id(journal, tmp_path):
    store, profiles = _MemoryStore(), ProfileStore(tmp_path / "profiles")
    profile = _profile(passcode_id="old", passcode_max_uses=3)
    updated = set_new_passcode(
        profile, "second-passcode-77", max_uses=500, expires="2027-01-31", store=store, profiles=profiles,
        journal=journal,
    )  # fmt: skip
    assert updated.passcode_id not in (None, "old") and updated.passcode_max_uses == 500
    assert store.values == {"line/passcode": "second-passcode-77"}
    saved = profiles.path_for("line").read_text()
    assert "second-passcode-77" not in saved and updated.passcode_id in saved
    audit = [r for r in journal.audit.records() if r["kind"] == "passcode-changed"]
    assert len(audit) == 1 and "second-passcode-77" not in str(audit[0])
    named = set_new_passcode(
        profile, "third-passcode-88", max_uses=None, expires=None, passcode_id="DTM line 3 Dec",
        store=store, profiles=profiles,
    )  # fmt: skip
    assert named.passcode_id == "DTM line 3 Dec"


def test_a_refused_passcode_or_expiry_stores_nothing(tmp_path):
    store, profiles = _MemoryStore(), ProfileStore(tmp_path / "profiles")
    with pytest.raises(PasscodeRefused) as short:
        set_new_passcode(_profile(), "abc", max_uses=1, expires=None, store=store, profiles=profiles)
    assert "abc" not in str(short.value)
    with pytest.raises(PasscodeRefused, match="not an ISO 8601 date"):
        set_new_passcode(
            _profile(),
            "long-enough-passcode",
            max_uses=1,
            expires="31/12/2026",
            store=store,
            profiles=profiles,
        )
    assert store.values == {} and not profiles.exists("line")


def test_a_resumed_batch_uses_the_passcode_set_since():
    journaled = _profile(passcode_id="old", passcode_max_uses=3, concurrency=2)
    current = _profile(passcode_id="new", passcode_max_uses=9, concurrency=4)
    resumed = with_current_passcode(journaled, current)
    assert (resumed.passcode_id, resumed.passcode_max_uses, resumed.concurrency) == ("new", 9, 2)
    assert with_current_passcode(journaled, None) == journaled
