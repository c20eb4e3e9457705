"""AT response parsing for the nRF91 driver: what a real modem sends, and what a broken one might."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from certline.app.device import at_parser as p


def _csr_der() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "350000000000001")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


def test_ok_inside_base64_payload_does_not_end_the_response() -> None:
    collector = p.ResponseCollector("%KEYGEN:")
    # A KEYGEN line whose base64 happens to contain OK and ERROR; a line that *starts* with OK.
    assert collector.feed('%KEYGEN: "MIIBOKxERRORyz.0oRDOK"\r\n') is None
    assert collector.feed("OKAY this is noise\r\n") is None
    result = collector.feed("OK\r\n")
    assert result is not None and result.ok
    assert result.lines == ('%KEYGEN: "MIIBOKxERRORyz.0oRDOK"',)
    assert "OKAY this is noise" in result.urcs


def test_final_result_codes_are_whole_lines_only() -> None:
    assert p.parse_final("OK") == p.FinalResult(p.FinalKind.OK)
    assert p.parse_final("  OK \r") == p.FinalResult(p.FinalKind.OK)
    assert p.parse_final("ERROR") == p.FinalResult(p.FinalKind.ERROR)
    assert p.parse_final("+CME ERROR: 518") == p.FinalResult(p.FinalKind.CME, 518)
    assert p.parse_final("+CMS ERROR: 500") == p.FinalResult(p.FinalKind.CMS, 500)
    for not_final in ("OKAY", "NOT OK", "ERRORS", "+CME ERROR: x", "%KEYGEN: OK", "+CME ERROR: 518 x"):
        assert p.parse_final(not_final) is None


def test_urcs_interleaved_are_set_aside() -> None:
    lines = [
        '+CEREG: 2,"4E5A","0138A12F",7\r\n',
        "%XSIM: 1\r\n",
        "352656100367872\r\n",
        "+CEREG: 0\r\n",
        "OK\r\n",
    ]
    resp = p.collect(lines, None)
    assert p.parse_imei(resp) == "352656100367872"
    assert resp.urcs == ('+CEREG: 2,"4E5A","0138A12F",7', "%XSIM: 1", "+CEREG: 0")


def test_echoed_command_is_skipped() -> None:
    resp = p.collect(["AT+CGMM\r\n", "nRF9160-SICA\r\n", "OK\r\n"], None, echo="AT+CGMM")
    assert p.parse_text_line(resp, "model") == "nRF9160-SICA"


def test_cme_error_reports_code_and_technician_message() -> None:
    resp = p.collect(["+CEREG: 1\r\n", "+CME ERROR: 518\r\n"], "%CMNG:")
    assert resp.final == p.FinalResult(p.FinalKind.CME, 518)
    assert "offline" in p.cme_message(518) and "518" in p.cme_message(518)
    assert "not found" in p.cme_message(513)
    assert "full" in p.cme_message(515)
    assert "power" in p.cme_message(528)
    assert "error 999" in p.cme_message(999)
    assert "without a reason" in p.cme_message(None)


def test_keygen_response_decodes_csr_and_cose() -> None:
    csr = _csr_der()
    cose = bytes.fromhex("d28443a10126a104")
    line = f'%KEYGEN: "{p.b64url_encode(csr)}.{p.b64url_encode(cose)}"'
    result = p.parse_keygen(p.collect([line, "OK"], "%KEYGEN:"))
    assert result.csr_der == csr
    assert result.cose == cose
    x509.load_der_x509_csr(result.csr_der)


@pytest.mark.parametrize(
    "payload",
    [
        '"not base64!.abc"',
        '"YWJj.abc"',  # decodes, but is not DER
        "MIIB",  # not quoted
        '"a.b.c"',
        '""',
    ],
)
def test_keygen_response_rejects_malformed_payloads(payload: str) -> None:
    with pytest.raises(p.AtParseError):
        p.parse_keygen(p.collect([f"%KEYGEN: {payload}", "OK"], "%KEYGEN:"))


def test_cmng_read_keeps_multiline_pem_exactly() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIBOK\nERROR\nOK\n-----END CERTIFICATE-----\n"
    sha = hashlib.sha256(pem.encode()).hexdigest().upper()
    raw = f'%CMNG: 42,1,"{sha}","{pem}"\r\n'
    # The transport splits on LF; lines inside the quotes must not be taken for OK/ERROR.
    pieces = raw.splitlines(keepends=True)
    resp = p.collect([*pieces, "+CEREG: 5\r\n", "OK\r\n"], "%CMNG:")
    entry = p.parse_cmng_read(resp, 42, 1)
    assert entry.content == pem
    assert entry.sha256 == hashlib.sha256(pem.encode()).digest()


def test_cmng_read_works_when_transport_strips_terminators() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    sha = "AB" * 32
    pieces = [line for line in f'%CMNG: 7,0,"{sha}","{pem}"'.split("\n")]
    resp = p.collect([*pieces, "OK"], "%CMNG:")
    assert p.parse_cmng_read(resp, 7, 0).content == pem


def test_cmng_read_rejects_wrong_tag_or_missing_hash() -> None:
    with pytest.raises(p.AtParseError):
        p.parse_cmng_read(p.collect(['%CMNG: 8,1,"' + "00" * 32 + '","x"', "OK"], "%CMNG:"), 7, 1)
    with pytest.raises(p.AtParseError):
        p.parse_cmng_read(p.collect(["%CMNG: 7,1", "OK"], "%CMNG:"), 7, 1)
    with pytest.raises(p.AtParseError):
        p.parse_cmng_line('%CMNG: 7,1,"nothex"')


def test_cmng_list_lines() -> None:
    resp = p.collect(['%CMNG: 42,0,"' + "0A" * 32 + '"', '%CMNG: 42,1,"' + "0B" * 32 + '"', "OK"], "%CMNG:")
    entries = p.parse_cmng_list(resp)
    assert [(e.sec_tag, e.cred_type) for e in entries] == [(42, 0), (42, 1)]
    assert entries[0].sha256 == bytes([0x0A]) * 32


def test_cgsn_both_forms_and_bad_imei() -> None:
    assert p.parse_imei(p.collect(['+CGSN: "352656100367872"', "OK"], "+CGSN:")) == "352656100367872"
    with pytest.raises(p.AtParseError):
        p.parse_imei(p.collect(["35265610036787X", "OK"], None))
    with pytest.raises(p.AtParseError):
        p.parse_imei(p.collect(["OK"], None))


def test_cfun_query() -> None:
    assert p.parse_cfun(p.collect(["+CFUN: 4", "OK"], "+CFUN:")) == 4


def test_split_params_honours_quotes() -> None:
    params = p.split_params('16842753,2,0,"O=Nordic Semiconductor,L=Trondheim,C=no"')
    assert [x.value for x in params] == ["16842753", "2", "0", "O=Nordic Semiconductor,L=Trondheim,C=no"]
    assert [x.quoted for x in params] == [False, False, False, True]
    with pytest.raises(p.AtParseError):
        p.split_params('1,"unterminated')
    with pytest.raises(p.AtParseError):
        p.split_params('"a"b')


def test_limits_bound_line_length_and_response_size() -> None:
    collector = p.ResponseCollector(None, max_line_chars=100)
    with pytest.raises(p.AtParseError):
        collector.feed("x" * 101)
    collector = p.ResponseCollector("%CMNG:", max_lines=5)
    with pytest.raises(p.AtParseError):
        for _ in range(6):
            collector.feed("+CEREG: 1")
    # An unterminated quoted string cannot grow without bound either.
    collector = p.ResponseCollector("%CMNG:", max_response_chars=1000)
    collector.feed('%CMNG: 1,1,"' + "00" * 32 + '","-----BEGIN')
    with pytest.raises(p.AtParseError):
        for _ in range(100):
            collector.feed("A" * 64)


def test_missing_final_result_is_an_error() -> None:
    with pytest.raises(p.AtParseError):
        p.collect(["352656100367872"], None)


def test_quote_at_string_refuses_quotes() -> None:
    assert p.quote_at_string("CN=abc", "subject") == '"CN=abc"'
    with pytest.raises(ValueError):
        p.quote_at_string('a"b', "subject")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=30), st.sampled_from([None, "%CMNG:", "%KEYGEN:"]))
def test_fuzz_collector_raises_only_parse_errors(lines: list[str], prefix: str | None) -> None:
    collector = p.ResponseCollector(prefix)
    try:
        for line in lines:
            result = collector.feed(line)
            if result is not None:
                for parse in (p.parse_cmng_list, p.parse_keygen, p.parse_imei, p.parse_cfun):
                    try:
                        parse(result)
                    except p.AtParseError:
                        pass
                break
    except p.AtParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_line_parsers_raise_only_parse_errors(text: str) -> None:
    for parse in (p.parse_cmng_line, p.split_params):
        try:
            parse("%CMNG: " + text if parse is p.parse_cmng_line else text)
        except p.AtParseError:
            pass
    try:
        p.b64url_decode(text, "x")
    except p.AtParseError:
        pass
