"""The one rule for which secrets a profile needs (certline.app.security.secret_needs); no keyring, no Qt."""

from __future__ import annotations

import pytest

from certline.app.config.profile import AuthStyle, Profile
from certline.app.security.secret_needs import (
    Need,
    need_for,
    required_purposes,
    typed_secret_purpose,
    wanted_purposes,
)
from certline.app.security.secret_store import Purpose

URL = "https://est.example/.well-known/est"


def profile(
    style: AuthStyle = AuthStyle.PASSCODE_ONLY,
    *,
    client_cert_file: str | None = None,
    client_key_file: str | None = None,
    client_p12_file: str | None = None,
) -> Profile:
    return Profile(
        name="p",
        enroll_url=URL,
        auth_style=style,
        username="u",
        client_cert_file=client_cert_file,
        client_key_file=client_key_file,
        client_p12_file=client_p12_file,
    )


def test_a_dtm_passcode_profile_needs_only_its_passcode() -> None:
    dtm = profile()
    assert required_purposes(dtm) == (Purpose.PASSCODE,)
    assert wanted_purposes(dtm) == (Purpose.PASSCODE,)


def test_user_password_style_needs_the_password_not_the_passcode() -> None:
    basic = profile(AuthStyle.USER_PASSWORD)
    assert need_for(basic, Purpose.USER_PASSWORD) is Need.REQUIRED
    assert need_for(basic, Purpose.PASSCODE) is Need.UNUSED


@pytest.mark.parametrize("style", list(AuthStyle))
def test_a_pkcs12_file_always_needs_its_password(style: AuthStyle) -> None:
    # the EST client opens the client credential for every connection, whatever the auth style
    with_p12 = profile(style, client_p12_file="station.p12")
    assert need_for(with_p12, Purpose.P12_PASSWORD) is Need.REQUIRED
    assert Purpose.P12_PASSWORD in required_purposes(with_p12)


def test_a_pem_client_key_password_is_optional() -> None:
    # encrypted or not is only known when the key is opened
    pem = profile(AuthStyle.CLIENT_CERT, client_cert_file="c.pem", client_key_file="k.pem")
    assert need_for(pem, Purpose.P12_PASSWORD) is Need.OPTIONAL
    assert required_purposes(pem) == ()
    assert wanted_purposes(pem) == (Purpose.P12_PASSWORD,)


def test_no_client_credential_means_no_key_password() -> None:
    assert need_for(profile(), Purpose.P12_PASSWORD) is Need.UNUSED
    # a key file without a certificate is never loaded by the EST client
    assert need_for(profile(client_key_file="k.pem"), Purpose.P12_PASSWORD) is Need.UNUSED


def test_passcode_profile_renewing_with_a_client_certificate_wants_both() -> None:
    dtm = profile(client_cert_file="c.pem", client_key_file="k.pem")
    assert wanted_purposes(dtm) == (Purpose.PASSCODE, Purpose.P12_PASSWORD)
    assert required_purposes(dtm) == (Purpose.PASSCODE,)


@pytest.mark.parametrize(
    ("style", "purpose"),
    [
        (AuthStyle.PASSCODE_ONLY, Purpose.PASSCODE),
        (AuthStyle.USER_PASSWORD, Purpose.USER_PASSWORD),
        (AuthStyle.CLIENT_CERT, Purpose.P12_PASSWORD),
    ],
)
def test_the_editor_field_holds_the_secret_of_the_auth_style(style: AuthStyle, purpose: Purpose) -> None:
    assert typed_secret_purpose(profile(style)) is purpose
