"""Reading scanned unit labels: golden IMEIs, a GS1 Digital Link URL, JSON QR codes, misreads."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from certline.app.batch.scan_label import ScannedLabel, UnreadableLabel, luhn_valid, parse_label

# IMEIs published by Nordic: the AT command reference's +CGSN example (nRF91x1 and nRF9160
# "Set command" pages) and the nRF9160 DK of the nRF Cloud utilities transcript
# (tests/device/fixtures/identity_mfw_nrf9160_1.3.5.txt).
NORDIC_DOC_IMEI = "352656100367872"
NRF9160_DK_IMEI = "352656109480783"
# GS1 Digital Link Standard: URI Syntax 1.2, example URIs (GTIN 09506000134352 / 09506000134376).
GS1_DL = "https://id.gs1.org/01/09506000134352/21/12345"
GS1_DL_WITH_LOT = "https://id.gs1.org/01/09506000134376/10/ABC/21/12345?17=231231"


@pytest.mark.parametrize("imei", [NORDIC_DOC_IMEI, NRF9160_DK_IMEI])
def test_a_real_imei_is_read_as_an_imei_with_its_check_digit(imei):
    label = parse_label(imei)
    assert label.imei == imei and label.serial is None
    assert label.matches(imei)
    assert label.describe() == f"IMEI {imei}"


@pytest.mark.parametrize(
    "printed",
    ["IMEI: 352656100367872", "imei 35-265610-036787-2", "352656 100367 872", "IMEI=352656100367872"],
)
def test_an_imei_printed_with_a_prefix_or_groups_is_the_same_imei(printed):
    assert parse_label(printed).imei == NORDIC_DOC_IMEI


def test_a_fifteen_digit_number_with_a_wrong_check_digit_is_refused_as_a_misread():
    wrong = NORDIC_DOC_IMEI[:-1] + "3"
    assert not luhn_valid(wrong)
    with pytest.raises(UnreadableLabel, match="check digit"):
        parse_label(wrong)


def test_a_plain_serial_number_matches_ignoring_case_and_surrounding_whitespace():
    label = parse_label("  CL-000042\r\n")
    assert label == ScannedLabel("CL-000042", serial="CL-000042")
    assert label.matches("cl-000042")
    assert not label.matches("CL-000043")


def test_gs1_digital_link_urls_carry_the_serial_in_the_path():
    assert parse_label(GS1_DL).serial == "12345"
    assert parse_label(GS1_DL_WITH_LOT).serial == "12345"


def test_a_url_with_the_serial_or_imei_in_its_query():
    assert parse_label("https://factory.example/u?sn=CL-000007&batch=3").serial == "CL-000007"
    label = parse_label(f"HTTPS://factory.example/unit?imei={NRF9160_DK_IMEI}")
    assert label.imei == NRF9160_DK_IMEI
    assert parse_label("https://factory.example/units/CL-000009").serial == "CL-000009"


def test_a_json_qr_code_with_serial_and_imei_matches_either():
    label = parse_label(f'{{"serial": "NRF-000001", "imei": "{NORDIC_DOC_IMEI}", "model": "nRF9160"}}')
    assert (label.serial, label.imei) == ("NRF-000001", NORDIC_DOC_IMEI)
    assert label.matches(NORDIC_DOC_IMEI) and label.matches("nrf-000001")
    assert not label.matches(NRF9160_DK_IMEI)
    assert parse_label('{"SerialNumber": "CL-1"}').serial == "CL-1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ('{"serial": "CL-1"', "not valid JSON"),
        ('["CL-1"]', "not an object"),
        ('{"model": "x"}', "no serial number"),
        ('{"imei": "1234"}', "not 15 digits"),
        ("https://factory.example/", "no serial number"),
        ("CL 1", "spaces"),
        ("CL-1\x1b[A", "control characters"),
        ("x" * 2000, "characters long"),
    ],
)
def test_what_is_not_a_label_is_refused_with_the_reason(text, reason):
    with pytest.raises(UnreadableLabel, match=reason):
        parse_label(text)


def test_a_label_id_from_the_expected_csv_stands_for_its_serial_number():
    ids = {"LBL-0001": "CL-000001"}
    label = parse_label("lbl-0001", ids)
    assert label.expected_serial == "CL-000001" and label.serial is None
    assert label.matches("CL-000001") and not label.matches("CL-000002")
    assert "CL-000001" in label.describe()
    qr = parse_label('{"label": "LBL-0001"}', ids)
    assert qr.matches("CL-000001")


def test_the_qr_code_of_a_label_certline_printed_reads_back_as_its_serial():
    # docs/labels.md: the QR code of a printed label (labels out) holds {"sn", "sha256", "not_after"}
    label = parse_label('{"sn":"CL-000123","sha256":"9F86D081884C7D65","not_after":"2027-12-03"}')
    assert label.serial == "CL-000123" and label.imei is None


GOLDEN_LABELS = [
    NORDIC_DOC_IMEI,
    GS1_DL_WITH_LOT,
    f'{{"serial": "NRF-000001", "imei": "{NRF9160_DK_IMEI}"}}',
    "https://factory.example/u?sn=CL-000007",
    "CL-000042",
]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.tuples(st.sampled_from(GOLDEN_LABELS), st.integers(0, 80), st.text(max_size=3)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]  # a scanner glitch: characters inserted
        ),
    )
)
@example("HTTP://[")  # found by this test: urllib refuses it as an invalid IPv6 host
def test_any_scanned_text_is_a_label_or_a_clear_refusal(text):
    """What a scanner (or a cat on the keyboard) types never crashes the station."""
    try:
        label = parse_label(text, {"LBL-1": "CL-1"})
    except UnreadableLabel as exc:
        assert str(exc)
        return
    assert label.identities(), "a label that was read names something"
    assert label.describe()
