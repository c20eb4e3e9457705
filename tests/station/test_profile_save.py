"""The profile editor's save (app/station/profile_save.py): the keyring first, then the profile;
a CA bundle file read into the profile; nothing half saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certline.app.config.profile import Profile
from certline.app.config.profile_store import ProfileError, ProfileStore
from certline.app.security.secret_store import SecretStore
from certline.app.station.profile_save import ProfileNotSaved, import_profile, save_profile_and_secret
from tests.conftest import MemoryKeyring
from tests.helpers.certs import self_signed_ca

URL = "https://est.example.com/.well-known/est"
OLD, NEW = "old-passcode-1234", "new-passcode-5678"


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    return ProfileStore(tmp_path / "profiles")


def test_a_ca_file_named_in_the_window_is_pinned_into_the_profile(
    store: ProfileStore, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    """Found in review: the window's "or CA bundle file" field kept a file name, so whoever could
    write that file changed what the profile trusts (the command line already copied it)."""
    _, ours = self_signed_ca("Line CA")
    _, rogue = self_signed_ca("Rogue CA")
    bundle = tmp_path / "line-ca.pem"
    bundle.write_bytes(ours.public_bytes(serialization.Encoding.PEM))
    saved = save_profile_and_secret(
        store, SecretStore, Profile(name="line1", enroll_url=URL, ca_bundle_file=str(bundle)), ""
    )
    bundle.write_bytes(rogue.public_bytes(serialization.Encoding.PEM))
    stored = store.load("line1")
    assert stored == saved and stored.ca_bundle_file is None
    assert stored.ca_bundle_pem is not None
    assert x509.load_pem_x509_certificates(stored.ca_bundle_pem.encode()) == [ours]

    bundle.write_text("no certificate here\n", encoding="ascii")
    with pytest.raises(ProfileNotSaved, match="holds no PEM certificate; nothing was saved"):
        save_profile_and_secret(
            store, SecretStore, Profile(name="line2", enroll_url=URL, ca_bundle_file=str(bundle)), ""
        )
    assert store.list() == ["line1"]


def test_an_imported_profile_keeps_the_ca_it_names_not_the_file_s_name(
    store: ProfileStore, tmp_path: Path
) -> None:
    """Noticed last round: ``profile import`` of a file naming ``ca_bundle_file`` kept the name, so
    whoever could later write that file changed what the imported profile trusts."""
    _, ours = self_signed_ca("Line CA")
    _, rogue = self_signed_ca("Rogue CA")
    bundle = tmp_path / "line-ca.pem"
    bundle.write_bytes(ours.public_bytes(serialization.Encoding.PEM))
    exported = tmp_path / "line1.json"
    exported.write_text(
        json.dumps(Profile(name="line1", enroll_url=URL, ca_bundle_file=str(bundle)).to_json()),
        encoding="utf-8",
    )

    imported = import_profile(store, exported)
    bundle.write_bytes(rogue.public_bytes(serialization.Encoding.PEM))
    stored = store.load("line1")
    assert stored == imported and stored.ca_bundle_file is None
    assert stored.ca_bundle_pem is not None
    assert x509.load_pem_x509_certificates(stored.ca_bundle_pem.encode()) == [ours]

    # a CA file that is not on this station fails the import, instead of every enrollment later
    bundle.unlink()
    with pytest.raises(ProfileError, match=r"trusts the CA bundle file .*line-ca\.pem, which cannot be read"):
        import_profile(store, exported, name="line2")
    assert store.list() == ["line1"]


@pytest.mark.parametrize("had_one", [True, False], ids=["replaced", "first"])
def test_a_profile_that_cannot_be_written_leaves_the_keyring_as_it_was(
    store: ProfileStore, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, had_one: bool
) -> None:
    """Found in review: the secret is stored first; if the profile file then cannot be written
    (disk full), the editor says "Not saved", so the station's live passcode must not have
    changed either."""
    profile = Profile(name="line1", enroll_url=URL)
    if had_one:
        memory_keyring.set_password("certline", "line1/passcode", OLD)

    def disk_full(_profile: Profile, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_profile_and_secret(store, SecretStore, profile, NEW)
    held = memory_keyring.entries.get(("certline", "line1/passcode"))
    assert held == (OLD if had_one else None)
