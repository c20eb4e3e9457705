"""Roles on the command line: engineer actions need the engineer PIN on a locked station (exit 77).

Run through ``certline.app.cli.main.main`` with the station's real lock file under the test's CERTLINE_HOME.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certline.app.cli.main import main
from certline.app.cli.role_args import EXIT_NOT_PERMITTED
from certline.app.config.profile_store import ProfileStore
from certline.app.security.station_lock import StationLock
from tests.helpers.certs import self_signed_ca

URL = "https://est.example.com/.well-known/est/cps/IOT_0a1b"
ENGINEER_PIN = "8642-eng"
TECHNICIAN_PIN = "1357-tec"


@pytest.fixture
def locked_station(monkeypatch: pytest.MonkeyPatch) -> StationLock:
    monkeypatch.setenv("NEW_PIN", ENGINEER_PIN)
    assert main(["station", "set-pin", "--role", "engineer", "--new-pin-env", "NEW_PIN"]) == 0
    monkeypatch.setenv("ENG_PIN", ENGINEER_PIN)
    monkeypatch.setenv("NEW_PIN", TECHNICIAN_PIN)
    assert (
        main(
            [
                "station",
                "set-pin",
                "--role",
                "technician",
                "--new-pin-env",
                "NEW_PIN",
                "--engineer-pin-env",
                "ENG_PIN",
            ]
        )
        == 0
    )
    assert main(["station", "lock"]) == 0
    lock = StationLock()
    assert lock.locked and lock.has_technician_pin()
    return lock


def test_a_station_without_pins_refuses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "add", "line1", "--url", URL]) == 0
    assert main(["station", "status"]) == 0
    out = capsys.readouterr().out
    assert "not set (roles are off" in out and "(engineer)" in out


def test_engineer_actions_on_a_locked_station_need_the_engineer_pin(
    locked_station: StationLock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    capsys.readouterr()
    # no terminal and no --engineer-pin-env: refused with what to do, nothing changed
    assert main(["profile", "add", "line1", "--url", URL]) == EXIT_NOT_PERMITTED
    err = capsys.readouterr().err
    assert "not permitted" in err and "--engineer-pin-env VAR" in err
    assert ProfileStore().list() == []
    # the technician PIN does not prove the engineer role
    monkeypatch.setenv("PIN", TECHNICIAN_PIN)
    assert main(["profile", "add", "line1", "--url", URL, "--engineer-pin-env", "PIN"]) == EXIT_NOT_PERMITTED
    err = capsys.readouterr().err
    assert "not the engineer PIN" in err and TECHNICIAN_PIN not in err
    # the engineer PIN does, for this command only: the station stays locked
    monkeypatch.setenv("PIN", ENGINEER_PIN)
    assert main(["profile", "add", "line1", "--url", URL, "--engineer-pin-env", "PIN"]) == 0
    assert ProfileStore().list() == ["line1"] and locked_station.locked
    assert main(["profile", "delete", "line1", "--keep-secrets"]) == EXIT_NOT_PERMITTED
    assert main(["profile", "edit", "line1", "--concurrency", "2"]) == EXIT_NOT_PERMITTED
    assert main(["journal", "migrate"]) == EXIT_NOT_PERMITTED
    captured = capsys.readouterr()
    assert ENGINEER_PIN not in captured.out + captured.err


def test_batch_run_reprovision_is_an_engineer_action(
    locked_station: StationLock, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    rc = main(["batch", "run", "--profile", "nope", "--port", "/dev/null", "--reprovision"])
    assert rc == EXIT_NOT_PERMITTED
    assert "re-provision a unit" in capsys.readouterr().err
    # without --reprovision the OS account may start a batch: it gets as far as the missing profile
    rc = main(["batch", "run", "--profile", "nope", "--port", "/dev/null"])
    assert rc == 2 and "nope" in capsys.readouterr().err


def test_unlock_needs_the_engineer_pin(
    locked_station: StationLock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIN", "0000-bad")
    assert main(["station", "unlock", "--engineer-pin-env", "PIN"]) == EXIT_NOT_PERMITTED
    assert locked_station.locked
    monkeypatch.setenv("PIN", ENGINEER_PIN)
    assert main(["station", "unlock", "--engineer-pin-env", "PIN"]) == 0
    assert not locked_station.locked
    assert main(["profile", "add", "line1", "--url", URL]) == 0  # an unlocked station: the engineer is in


def test_a_refusal_names_only_what_the_technician_may_not_do(
    locked_station: StationLock, capsys: pytest.CaptureFixture[str]
) -> None:
    """A technician may start a batch; the refusal of ``--reprovision`` must not say otherwise."""
    capsys.readouterr()
    rc = main(["batch", "run", "--profile", "nope", "--port", "/dev/null", "--reprovision"])
    err = capsys.readouterr().err
    assert rc == EXIT_NOT_PERMITTED
    assert "to re-provision a unit on this locked station" in err
    assert "start or resume a batch" not in err
    rc = main(["profile", "add", "line1", "--url", URL, "--ca", "/nonexistent.pem"])
    err = capsys.readouterr().err
    assert rc == EXIT_NOT_PERMITTED and "to edit profiles and pin a trust anchor on this" in err


def test_a_pin_change_on_an_unlocked_station_does_not_call_it_locked(
    locked_station: StationLock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engineer PIN is needed to change a PIN whether or not the station is locked; the
    refusal says that, instead of calling an unlocked station locked."""
    monkeypatch.setenv("PIN", ENGINEER_PIN)
    assert main(["station", "unlock", "--engineer-pin-env", "PIN"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("NEW_PIN", "2468-new")
    rc = main(["station", "set-pin", "--role", "technician", "--new-pin-env", "NEW_PIN"])
    err = capsys.readouterr().err
    assert rc == EXIT_NOT_PERMITTED
    assert "to change a PIN the engineer PIN is needed" in err and "locked" not in err
    assert main(["station", "lock"]) == 0
    capsys.readouterr()
    assert main(["station", "unlock"]) == EXIT_NOT_PERMITTED
    err = capsys.readouterr().err
    assert "to unlock the station the engineer PIN is needed" in err and "on this locked station" not in err


def test_the_mes_token_is_an_engineer_secret(
    locked_station: StationLock,
    memory_keyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Like the shared journal's password, the MES token is a station secret: a technician on a
    locked station may not replace it (the roles table: change passcodes or passwords)."""
    from certline.app.station.credential_source import mes_token

    monkeypatch.setattr("sys.stdin", io.StringIO("mes-token-1f3a\n"))
    assert main(["mes", "set-token"]) == EXIT_NOT_PERMITTED
    assert "change passcodes or passwords" in capsys.readouterr().err
    assert mes_token() is None
    monkeypatch.setenv("PIN", ENGINEER_PIN)
    monkeypatch.setattr("sys.stdin", io.StringIO("mes-token-1f3a\n"))
    assert main(["mes", "set-token", "--engineer-pin-env", "PIN"]) == 0
    assert mes_token() == "mes-token-1f3a" and locked_station.locked


def test_an_unset_pin_variable_is_a_clear_refusal_not_a_crash(
    locked_station: StationLock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script that names a variable it forgot to export gets one line and a status, not an
    "internal error" with a crash report."""
    monkeypatch.delenv("UNSET_PIN", raising=False)
    capsys.readouterr()
    rc = main(
        ["batch", "run", "--profile", "nope", "--port", "/dev/null", "--reprovision"]
        + ["--engineer-pin-env", "UNSET_PIN"]
    )
    assert rc == EXIT_NOT_PERMITTED
    assert "UNSET_PIN is not set" in capsys.readouterr().err
    assert main(["station", "unlock", "--engineer-pin-env", "UNSET_PIN"]) == EXIT_NOT_PERMITTED
    assert "UNSET_PIN is not set" in capsys.readouterr().err and locked_station.locked
    monkeypatch.setenv("PIN", ENGINEER_PIN)
    rc = main(
        [
            "station",
            "set-pin",
            "--role",
            "technician",
            "--new-pin-env",
            "UNSET_PIN",
            "--engineer-pin-env",
            "PIN",
        ]
    )
    assert rc == 2 and "UNSET_PIN is not set" in capsys.readouterr().err
    assert locked_station.has_technician_pin()  # unchanged


def test_a_lock_file_saved_over_keeps_engineer_actions_refused(
    locked_station: StationLock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found from outside: ``profile export`` (open to technicians) saved over the lock file, and
    the station then said "engineer PIN: not set" and let anyone edit profiles. A lock file that is
    not a lock now keeps the station locked, for every PIN, until an engineer restores it."""
    monkeypatch.setenv("PIN", ENGINEER_PIN)
    assert main(["profile", "add", "line1", "--url", URL, "--engineer-pin-env", "PIN"]) == 0
    monkeypatch.delenv("PIN")
    # the technician's slip (profile export into the config folder is refused now; any other writer,
    # an editor or a copy, can still do it)
    locked_station.path.write_text(json.dumps(ProfileStore().load("line1").to_json()), encoding="utf-8")
    capsys.readouterr()

    assert main(["profile", "add", "rogue", "--url", URL]) == EXIT_NOT_PERMITTED
    monkeypatch.setenv("PIN", ENGINEER_PIN)  # no PIN proves the engineer role against such a file
    assert main(["profile", "add", "rogue", "--url", URL, "--engineer-pin-env", "PIN"]) == EXIT_NOT_PERMITTED
    err = capsys.readouterr().err
    assert "is not a station lock" in err and "restores the file" in err
    assert ProfileStore().list() == ["line1"]

    assert main(["station", "status"]) == 1
    captured = capsys.readouterr()
    assert "locked (the lock file is damaged)" in captured.out and "(technician)" in captured.out
    assert "not set" not in captured.out and "is not a station lock" in captured.err
    assert main(["station", "unlock", "--engineer-pin-env", "PIN"]) == EXIT_NOT_PERMITTED  # no crash report
    assert "is not a station lock" in capsys.readouterr().err


def test_trust_anchors_given_with_ca_are_pinned_into_the_profile(
    locked_station: StationLock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found from outside: ``profile add --ca FILE`` kept only the file's path, so whoever could
    write the file (no engineer PIN needed) changed what the profile trusts. The certificates are
    copied into the profile instead; the file changing later changes nothing."""
    _, ours = self_signed_ca("Line CA")
    _, rogue = self_signed_ca("Rogue CA")
    bundle = tmp_path / "line-ca.pem"
    bundle.write_bytes(ours.public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv("PIN", ENGINEER_PIN)
    assert (
        main(["profile", "add", "line1", "--url", URL, "--ca", str(bundle), "--engineer-pin-env", "PIN"]) == 0
    )

    bundle.write_bytes(rogue.public_bytes(serialization.Encoding.PEM))  # replaced behind the profile's back
    profile = ProfileStore().load("line1")
    assert profile.ca_bundle_file is None
    assert profile.ca_bundle_pem is not None
    assert x509.load_pem_x509_certificates(profile.ca_bundle_pem.encode()) == [ours]

    # an empty --ca removes the anchors (an engineer action, like setting them)
    assert main(["profile", "edit", "line1", "--ca", "", "--engineer-pin-env", "PIN"]) == 0
    assert ProfileStore().load("line1").ca_bundle_pem is None


def test_exports_are_refused_in_the_station_configuration_folder(
    locked_station: StationLock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile export saved over the lock file was how roles were turned off (the station now
    fails closed on such a file); exports into the configuration folder are refused outright, so a
    technician's slip cannot lock the station either."""
    monkeypatch.setenv("PIN", ENGINEER_PIN)
    assert main(["profile", "add", "line1", "--url", URL, "--engineer-pin-env", "PIN"]) == 0
    before = locked_station.path.read_bytes()
    config = locked_station.path.parent
    capsys.readouterr()
    assert main(["profile", "export", "line1", str(locked_station.path)]) == 1
    assert main(["stats", "--out", str(config / "stats.txt")]) == 1
    assert main(["expiry", "--out", str(config / "expiry.csv")]) == 1
    assert (
        main(["report", "export", "--batch", "1", "--format", "json", "--out", str(config / "r.json")]) == 1
    )
    err = capsys.readouterr().err
    assert err.count("in the station's configuration folder") == 4 and "nothing written" in err
    assert locked_station.path.read_bytes() == before and locked_station.locked
    assert not (config / "stats.txt").exists() and not (config / "expiry.csv").exists()
    elsewhere = locked_station.path.parent.parent / "line1-export.json"
    assert main(["profile", "export", "line1", str(elsewhere)]) == 0 and elsewhere.exists()
