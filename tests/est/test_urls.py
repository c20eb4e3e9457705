"""Every URL form people paste resolves to the same operation URLs."""

from __future__ import annotations

import pytest

from certline.app.config.est_urls import EstUrlError, parse_est_url

DTM = "https://one.digicert.com/.well-known/est/cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509"


@pytest.mark.parametrize(
    "pasted",
    [
        "https://est.example.com",
        "https://est.example.com/",
        "est.example.com",
        "  https://est.example.com/.well-known/est  ",
        "https://est.example.com/.well-known/est/",
        "https://est.example.com/.well-known/est/cacerts",
        "https://est.example.com/.well-known/est/simpleenroll",
        "'https://est.example.com/.well-known/est/simplereenroll '",
        "HTTPS://EST.example.COM/.well-known/est/simpleenroll",
    ],
)
def test_root_base_and_operation_forms_are_equivalent(pasted: str) -> None:
    ep = parse_est_url(pasted)
    assert ep.url("simpleenroll") == "https://est.example.com/.well-known/est/simpleenroll"
    assert ep.url("cacerts") == "https://est.example.com/.well-known/est/cacerts"


def test_dtm_console_url_with_device_group_after_operation() -> None:
    ep = parse_est_url(DTM + "/simpleenroll/dg-42")
    assert ep.url("simpleenroll") == DTM + "/simpleenroll/dg-42"
    assert ep.url("csrattrs") == DTM + "/csrattrs/dg-42"
    assert ep.url("serverkeygen") == DTM + "/serverkeygen/dg-42"


def test_device_group_segment_before_operation_stays_in_base() -> None:
    ep = parse_est_url(DTM + "/device-group/dg-42/simpleenroll")
    assert ep.url("simplereenroll") == DTM + "/device-group/dg-42/simplereenroll"
    # the same group given explicitly is not added twice
    same = parse_est_url(DTM + "/device-group/dg-42/simpleenroll", device_group="dg-42")
    assert same == ep


def test_label_path_base_without_operation() -> None:
    ep = parse_est_url(DTM)
    assert ep.url("simpleenroll") == DTM + "/simpleenroll"
    assert ep.host == "one.digicert.com" and ep.port == 443


def test_explicit_device_group_appends_suffix_when_url_has_none() -> None:
    ep = parse_est_url(DTM + "/simpleenroll", device_group="dg-7")
    assert ep.url("simpleenroll") == DTM + "/simpleenroll/dg-7"
    assert ep.url("cacerts") == DTM + "/cacerts/dg-7"


def test_explicit_device_group_matching_url_is_accepted_and_conflict_is_an_error() -> None:
    assert parse_est_url(DTM + "/simpleenroll/dg-7", device_group="dg-7").suffix == "/dg-7"
    with pytest.raises(EstUrlError, match="device group"):
        parse_est_url(DTM + "/simpleenroll/dg-7", device_group="other")


def test_label_is_added_when_url_has_none() -> None:
    ep = parse_est_url("https://one.digicert.com", label="cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509")
    assert ep.url("simpleenroll") == DTM + "/simpleenroll"
    ep = parse_est_url("https://h:8443/.well-known/est/simpleenroll", label="/arbitrary/")
    assert ep.url("simpleenroll") == "https://h:8443/.well-known/est/arbitrary/simpleenroll"


def test_label_matching_url_is_accepted_and_conflict_is_an_error() -> None:
    assert parse_est_url(DTM, label="IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509").base == DTM
    with pytest.raises(EstUrlError, match="label"):
        parse_est_url(DTM, label="other")


def test_label_goes_before_a_device_group_segment() -> None:
    ep = parse_est_url("https://h/.well-known/est/device-group/g1/simpleenroll", label="cps/IOT_x")
    assert ep.url("cacerts") == "https://h/.well-known/est/cps/IOT_x/device-group/g1/cacerts"


def test_port_and_ipv6_are_kept() -> None:
    assert parse_est_url("https://127.0.0.1:40123").url("cacerts") == (
        "https://127.0.0.1:40123/.well-known/est/cacerts"
    )
    ep = parse_est_url("https://[::1]:8443/.well-known/est")
    assert ep.url("cacerts") == "https://[::1]:8443/.well-known/est/cacerts"
    assert ep.port == 8443


def test_nonstandard_base_path_is_kept() -> None:
    ep = parse_est_url("https://h/est-proxy/simpleenroll")
    assert ep.url("cacerts") == "https://h/est-proxy/cacerts"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "empty"),
        ("http://h/.well-known/est", "https"),
        ("https://h/.well-known/est?x=1", "query"),
        ("https://user:pw@h/.well-known/est", "credentials"),
        ("https:///.well-known/est", "host"),
    ],
)
def test_unusable_urls_are_rejected_with_a_reason(bad: str, why: str) -> None:
    with pytest.raises(EstUrlError, match=why):
        parse_est_url(bad)


def test_url_error_never_shows_userinfo_password() -> None:
    with pytest.raises(EstUrlError) as info:
        parse_est_url("https://user:s3cret-pw@h/.well-known/est")
    assert "s3cret-pw" not in str(info.value)


def test_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_est_url("https://h").url("enroll")


def test_dtm_clientauth_host_suggestion() -> None:
    from certline.app.config.est_urls import clientauth_url

    assert clientauth_url(DTM + "/simpleenroll") == DTM.replace("one.", "clientauth.one.") + "/simpleenroll"
    assert clientauth_url("https://clientauth.h/x") == "https://clientauth.h/x"
    assert clientauth_url("h:8443") == "https://clientauth.h:8443"
