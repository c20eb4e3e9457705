"""Profile files: round trip, validation with useful messages, private files, no secrets travel."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from certline.app.config.paths import station_paths
from certline.app.config.profile import AuthStyle, CsrFormat, Profile
from certline.app.config.profile_store import (
    InvalidProfile,
    InvalidProfileName,
    ProfileExists,
    ProfileNotFound,
    ProfileStore,
)
from certline.app.config.settings import SettingsError, StationSettings, load_settings, save_settings
from certline.app.station.profile_save import import_profile

URL = "https://est.example.com/.well-known/est/cps/IOT_0a1b"


def make_profile(name: str = "acme-line1", **changes: Any) -> Profile:
    profile = Profile(
        name=name,
        enroll_url=URL,
        device_group="grp-7",
        csr_format=CsrFormat.PEM_TEXT,
        subject_template={"CN": "{serial}", "O": "ACME"},
        concurrency=8,
    )
    return dataclasses.replace(profile, **changes)


def test_save_load_round_trip_and_list() -> None:
    store = ProfileStore()
    store.save(make_profile("b-line"))
    store.save(make_profile("A-line", label="cps/IOT_0a1b"))
    assert store.list() == ["A-line", "b-line"]
    assert store.load("b-line") == make_profile("b-line")
    assert store.load("A-line").label == "cps/IOT_0a1b"
    assert store.directory == station_paths().profiles


def test_files_and_directory_are_owner_only() -> None:
    path = ProfileStore().save(make_profile())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_save_without_overwrite_refuses_an_existing_name() -> None:
    store = ProfileStore()
    store.save(make_profile())
    with pytest.raises(ProfileExists):
        store.save(make_profile(concurrency=2), overwrite=False)
    assert store.load("acme-line1").concurrency == 8


def test_delete_and_missing_profile() -> None:
    store = ProfileStore()
    store.save(make_profile())
    store.delete("acme-line1")
    assert store.list() == []
    with pytest.raises(ProfileNotFound, match="no profile named 'acme-line1'"):
        store.load("acme-line1")
    with pytest.raises(ProfileNotFound):
        store.delete("acme-line1")


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "con", "LPT1", "x" * 65, "sp ace", "dot."])
def test_unsafe_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidProfileName):
        ProfileStore().save(make_profile(name))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"enroll_url": "http://est.example.com/.well-known/est"}, "must be an https:// URL"),
        ({"enroll_url": "https://user:pw@est.example.com/x"}, "must not contain a user name or password"),
        ({"concurrency": 0}, "concurrency must be between 1 and 64"),
        ({"subject_template": {"CN": "{sn}"}}, "may only use the placeholder {serial}"),
        ({"auth_style": AuthStyle.USER_PASSWORD}, "needs username"),
        ({"auth_style": AuthStyle.CLIENT_CERT}, "needs client_p12_file"),
    ],
)
def test_invalid_profiles_are_rejected_on_save(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidProfile, match=message.replace("{", r"\{").replace("}", r"\}")):
        ProfileStore().save(make_profile(**changes))


def write_raw(name: str, data: object) -> Path:
    directory = station_paths().profiles
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_broken_files_give_errors_that_name_the_file_and_field() -> None:
    good = make_profile().to_json()
    write_raw("notjson", "{oops")
    write_raw("wrongtype", {**good, "name": "wrongtype", "concurrency": "4"})
    write_raw("unknown", {**good, "name": "unknown", "colour": "blue"})
    write_raw("renamed", good)  # holds "acme-line1"
    store = ProfileStore()
    with pytest.raises(InvalidProfile, match=r"notjson\.json: not valid JSON \(line 1"):
        store.load("notjson")
    with pytest.raises(InvalidProfile, match=r"wrongtype\.json: concurrency must be int"):
        store.load("wrongtype")
    with pytest.raises(InvalidProfile, match=r"unknown\.json: unknown profile fields: colour"):
        store.load("unknown")
    with pytest.raises(InvalidProfile, match="holds profile 'acme-line1'"):
        store.load("renamed")
    profiles, errors = store.load_all()
    assert profiles == [] and len(errors) == 4


def test_a_secret_in_a_profile_file_is_refused_with_the_fix() -> None:
    path = write_raw("leaky", {**make_profile("leaky").to_json(), "passcode": "s3cret-value"})
    with pytest.raises(InvalidProfile) as info:
        ProfileStore().load("leaky")
    assert str(info.value) == (
        f"{path}: profiles never contain secrets; remove passcode and store it with: "
        "certline profile set-passcode NAME"
    )
    assert "s3cret-value" not in str(info.value)


def test_export_holds_exactly_the_profile_fields(tmp_path: Path) -> None:
    store = ProfileStore()
    store.save(make_profile())
    out = store.export_file("acme-line1", tmp_path / "acme.json")
    data = json.loads(out.read_text())
    assert set(data) == {f.name for f in dataclasses.fields(Profile)}
    about_the_passcode = {"passcode_id", "passcode_max_uses", "passcode_expires"}  # no secret in them
    assert not {k for k in data if "pass" in k or "secret" in k or "pin" in k} - about_the_passcode
    assert data["enroll_url"] == URL and data["csr_format"] == "pem-text"


def test_import_round_trip_with_rename_and_overwrite_rules(tmp_path: Path) -> None:
    store = ProfileStore()
    store.save(make_profile())
    exported = store.export_file("acme-line1", tmp_path / "acme.json")
    with pytest.raises(ProfileExists):
        import_profile(store, exported)
    copy = import_profile(store, exported, name="acme-line2")
    assert copy == make_profile("acme-line2")
    assert store.load("acme-line2") == copy
    assert import_profile(store, exported, overwrite=True) == make_profile()


def test_import_rejects_extra_keys(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps({**make_profile().to_json(), "p12_password": "x"}))
    with pytest.raises(InvalidProfile, match="profiles never contain secrets"):
        import_profile(ProfileStore(), source)
    assert ProfileStore().list() == []


# --- station settings live next to the profiles; same file rules ----------------------------


def test_settings_default_save_and_reload() -> None:
    assert load_settings() == StationSettings()
    path = save_settings(StationSettings(large_text=True, language="de"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_settings()
    assert loaded.large_text is True and loaded.language == "de"
    assert loaded.allow_insecure_keyring_backend is None


def test_settings_with_a_wrong_type_name_the_file_and_key() -> None:
    path = station_paths().settings
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"large_text": "yes"}))
    with pytest.raises(SettingsError, match=r"settings\.json: setting 'large_text' must be bool"):
        load_settings()


def test_unknown_settings_survive_a_save() -> None:
    path = station_paths().settings
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"future_option": 3}))
    save_settings(load_settings().replace(large_text=True))
    assert json.loads(path.read_text())["future_option"] == 3
    assert load_settings().large_text is True
