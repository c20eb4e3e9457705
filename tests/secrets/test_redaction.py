"""Secrets never reach a log line, a log file or a crash report."""

from __future__ import annotations

import base64
import logging
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.host.log_setup import (
    attach_handler,
    configure_cli_logging,
    log_file_path,
    write_crash_report,
)
from certline.app.security.redaction import REDACTED, RedactingFilter, register_secret, scrub, scrub_exception

PASSCODE = "Kx9!passcode-0815"


@pytest.fixture
def pem_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def captured() -> Iterator[list[str]]:
    """Formatted lines of a handler that has the redaction filter, on logger 'certline.test'."""
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    logger = logging.getLogger("certline.test")
    attach_handler(handler, logger)
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)


def test_registered_secret_is_scrubbed_from_message_and_args(captured: list[str]) -> None:
    register_secret(PASSCODE)
    log = logging.getLogger("certline.test")
    log.info(f"passcode is {PASSCODE}")
    log.info("enrolling with %s for %s", PASSCODE, "dev-1")
    log.info("dict arg: %(p)s", {"p": PASSCODE})
    assert all(PASSCODE not in line for line in captured)
    assert captured[1] == f"enrolling with {REDACTED} for dev-1"
    assert captured[2] == f"dict arg: {REDACTED}"


def test_base64_forms_of_a_registered_secret_are_scrubbed() -> None:
    register_secret(PASSCODE)
    token = base64.b64encode(PASSCODE.encode()).decode()
    urlsafe = base64.urlsafe_b64encode(PASSCODE.encode()).decode().rstrip("=")
    text = scrub(f"token={token} other={urlsafe}")
    assert token not in text and urlsafe not in text
    assert text == f"token={REDACTED} other={REDACTED}"


@pytest.mark.parametrize(
    "line",
    [
        "Authorization: Basic dXNlcjpodW50ZXIy",
        "headers={'Authorization': 'Basic dXNlcjpodW50ZXIy', 'Accept': '*/*'}",
        "proxy-authorization: Bearer abc.def.ghi",
        "sent Basic dXNlcjpodW50ZXIy to the server",
    ],
)
def test_authorization_credentials_are_scrubbed_even_when_not_registered(line: str) -> None:
    text = scrub(line)
    assert "dXNlcjpodW50ZXIy" not in text and "abc.def.ghi" not in text
    assert REDACTED in text


def test_ordinary_text_about_basic_auth_stays_readable() -> None:
    text = "Basic auth failed: check the passcode; Authorization header missing"
    assert scrub(text) == text


def test_pem_private_key_is_scrubbed_but_certificates_are_kept(pem_key: str) -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----"
    text = scrub(f"device sent:\n{pem_key}\nand {cert}")
    body = pem_key.splitlines()[1]
    assert body not in text
    assert f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----" in text
    assert cert in text


def test_truncated_and_escaped_pem_keys_are_scrubbed(pem_key: str) -> None:
    body = pem_key.splitlines()[1]
    assert body not in scrub(pem_key[: len(pem_key) // 2])  # the END line was cut off
    assert body not in scrub(repr(pem_key))  # "\n" escaped, as in a repr'd bytes object


def test_exception_traceback_in_a_log_record_is_scrubbed(captured: list[str], pem_key: str) -> None:
    register_secret(PASSCODE)
    try:
        raise ValueError(f"server rejected {PASSCODE} with key {pem_key}")
    except ValueError:
        logging.getLogger("certline.test").exception("enroll failed")
    text = "\n".join(captured)
    assert "Traceback" in text and "ValueError" in text
    assert PASSCODE not in text
    assert pem_key.splitlines()[1] not in text


def test_stack_info_is_scrubbed(captured: list[str]) -> None:
    register_secret(PASSCODE)
    passcode_in_source_line = PASSCODE  # noqa: F841 - the stack shows this frame's source
    logging.getLogger("certline.test").info("where %s", PASSCODE, stack_info=True)
    assert PASSCODE not in "\n".join(captured)


def test_filter_survives_bad_format_arguments() -> None:
    register_secret(PASSCODE)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, f"{PASSCODE} %s %s", ("a",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage().startswith(f"{REDACTED} %s %s")


def test_scrub_exception_gives_a_clean_one_liner() -> None:
    register_secret(PASSCODE)
    assert scrub_exception(RuntimeError(f"bad {PASSCODE}")) == f"RuntimeError: bad {REDACTED}"


def test_blank_values_are_not_registered() -> None:
    register_secret("   ")
    register_secret("")
    register_secret(None)
    assert scrub("a b  c") == "a b  c"


def test_log_file_is_private_and_redacted(certline_home: object) -> None:
    register_secret(PASSCODE)
    path = configure_cli_logging(0)
    assert path == log_file_path()
    logging.getLogger("certline.test").info("loaded passcode %s", PASSCODE)
    logging.getLogger("certline.test").debug("not at INFO level")
    for handler in logging.getLogger().handlers:
        handler.flush()
    content = path.read_text()
    assert "loaded passcode [REDACTED]" in content
    assert PASSCODE not in content
    assert "not at INFO level" not in content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_rotated_log_files_stay_private(monkeypatch: pytest.MonkeyPatch) -> None:
    import certline.app.host.log_setup as logsetup

    monkeypatch.setattr(logsetup, "LOG_MAX_BYTES", 200)
    path = configure_cli_logging(0)
    assert path is not None
    for i in range(20):
        logging.getLogger("certline.test").warning("line %d %s", i, "x" * 50)
    rotated = sorted(path.parent.glob("certline.log.*"))
    assert rotated and len(rotated) <= logsetup.LOG_BACKUPS
    for file in [path, *rotated]:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_crash_report_is_redacted_and_private(pem_key: str) -> None:
    register_secret(PASSCODE)
    configure_cli_logging(0)
    logging.getLogger("certline.test").warning("about to use %s", PASSCODE)
    try:
        raise RuntimeError(f"boom {PASSCODE}\n{pem_key}")
    except RuntimeError:
        path = write_crash_report(sys.exc_info())  # type: ignore[arg-type]
    text = path.read_text()
    assert "RuntimeError: boom [REDACTED]" in text
    assert "about to use [REDACTED]" in text  # the log tail is included
    assert PASSCODE not in text
    assert pem_key.splitlines()[1] not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reconfiguring_replaces_only_certline_handlers(caplog: pytest.LogCaptureFixture) -> None:
    configure_cli_logging(0)
    configure_cli_logging(2)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_certline_handler", False)]
    assert len(ours) == 2  # stderr + file, not four
    assert caplog.handler in root.handlers


def test_cli_excepthook_prints_a_scrubbed_line_and_the_report_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from certline.app.host.log_setup import install_cli_excepthook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    register_secret(PASSCODE)
    configure_cli_logging(0)
    install_cli_excepthook()
    try:
        raise KeyError(f"no device for {PASSCODE}")
    except KeyError:
        sys.excepthook(*sys.exc_info())
    err = capsys.readouterr().err
    assert "certline: internal error: KeyError: 'no device for [REDACTED]'" in err
    report = err.rsplit("crash report: ", 1)[1].strip()
    assert PASSCODE not in err
    assert PASSCODE not in Path(report).read_text()


def test_a_short_secret_is_redacted_as_a_whole_token_only() -> None:
    """Issue 14: a 2-letter passcode turned "unexpected" into "une[REDACTED]pected"."""
    register_secret("xp")
    assert scrub("unexpected reply; expired xp2") == "unexpected reply; expired xp2"
    assert scrub("passcode xp, 'xp' and url?pc=xp&x=1") == (
        f"passcode {REDACTED}, '{REDACTED}' and url?pc={REDACTED}&x=1"
    )


def test_a_secret_with_punctuation_at_its_edge_is_redacted_wherever_it_touches_text() -> None:
    register_secret("!Kx9-0815")
    assert scrub("prefix!Kx9-0815") == f"prefix{REDACTED}"
    register_secret("8chars!!")
    assert scrub("word8chars!!x") == "word8chars!!x"  # the letter edge still needs a boundary
    assert scrub("(8chars!!x)") == f"({REDACTED}x)"


def test_passcode_rule_for_every_entry_point() -> None:
    from certline.app.security.secret_store import MIN_PASSCODE_LENGTH, Purpose, passcode_problem

    assert MIN_PASSCODE_LENGTH == 8
    assert passcode_problem("Kx9!passcode-0815") is None
    assert passcode_problem("x" * MIN_PASSCODE_LENGTH) is None
    short = passcode_problem("abc1234")
    assert short is not None and "abc1234" not in short and "at least 8" in short
    assert passcode_problem("") is not None and passcode_problem("   ") is not None
    assert passcode_problem("abc", Purpose.USER_PASSWORD) is not None
    assert passcode_problem("abc", Purpose.P12_PASSWORD) is None  # whatever opens the file
