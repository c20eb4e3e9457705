"""A profile whose --label contradicts the label in its URL (newcomer walk-through, item 2).

It used to save fine and then crash ``batch run`` with "internal error: EstUrlError". It is now
refused when saved (``profile add``: one line, exit 1 like any refused profile; the GUI's editor
uses the same ``validate_profile``), and a profile file that already holds the contradiction
stops ``batch run`` with one line, exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certline.app.cli.main import main
from certline.app.config.profile import Profile
from certline.app.config.profile_store import InvalidProfile, ProfileStore, validate_profile
from tests.helpers.certs import make_cert, new_key

URL = "https://est.example.com/.well-known/est/cps/IOT_0a1b"


def test_profile_add_refuses_a_label_that_contradicts_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["profile", "add", "p1", "--url", URL, "--label", "cps/IOT_ffff"])
    err = capsys.readouterr().err
    assert rc == 1, err  # as every refused profile
    assert err.count("\n") == 1, err
    assert "IOT_0a1b" in err and "IOT_ffff" in err
    assert "Traceback" not in err and "internal error" not in err
    assert "p1" not in ProfileStore().list()


def test_a_matching_label_is_still_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "add", "p2", "--url", URL, "--label", "cps/IOT_0a1b"]) == 0


def test_validate_profile_names_the_url_field() -> None:
    """The GUI's overall check and the store share this function."""
    with pytest.raises(InvalidProfile, match="enroll_url"):
        validate_profile(Profile(name="p3", enroll_url=URL, label="cps/IOT_ffff"))


def test_batch_run_on_a_saved_contradiction_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PC", "a-test-passcode")  # not a secret
    key = new_key()
    ca = tmp_path / "ca.pem"
    from cryptography.hazmat.primitives import serialization

    ca.write_bytes(make_cert("ca", key.public_key(), key, ca=True).public_bytes(serialization.Encoding.PEM))
    assert main(["profile", "add", "p4", "--url", URL, "--ca", str(ca)]) == 0
    path = ProfileStore().path_for("p4")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["label"] = "cps/IOT_ffff"  # as written by an older version, or by hand
    path.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    rc = main(["batch", "run", "--profile", "p4", "--port", "loop://", "--passcode-env", "PC"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1, err
    assert err.startswith("certline batch run: ") and "IOT_ffff" in err
    assert "Traceback" not in err and "internal error" not in err
