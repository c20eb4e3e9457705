"""Labels out (issue 19 part 3): QR codes a real decoder reads, ZPL bytes on the wire, hook, reprints."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from certline.app.batch.events import EventBus
from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState
from certline.app.cli.main import main
from certline.app.labels.content import LabelError, content_for_device
from certline.app.labels.hook import LabelPrinting
from certline.app.labels.layout import layout_label
from certline.app.labels.render import render_pdf, render_png
from certline.app.labels.reprint import print_label
from certline.app.labels.settings import LabelSettings, parse_host_port
from certline.app.labels.zpl import LabelPrinterError, render_zpl, send_raw
from tests.labels.conftest import add_done_unit, decode_qr, new_batch, pdf_to_png

PDF_SETTINGS = {
    "output": "pdf",
    "target": "/unused",
    "template": ["{serial}", "WO {work_order}", "to {not_after}"],
}


class Listener:
    """A TCP label printer stand-in on 127.0.0.1: records every byte of each connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            chunks = []
            while data := conn.recv(65536):
                chunks.append(data)
        self.received.append(b"".join(chunks))
        self.done.set()

    def close(self) -> None:
        self.sock.close()


def test_png_and_pdf_labels_carry_a_qr_code_zbar_reads(journal: Journal, tmp_path: Path) -> None:
    device = add_done_unit(journal, new_batch(journal, PDF_SETTINGS), "CL-000123")
    content = content_for_device(journal, device)
    layout = layout_label(content, LabelSettings.from_json(PDF_SETTINGS))
    fingerprint = journal.device(device).cert_fingerprint or ""
    expected = {"sn": "CL-000123", "sha256": fingerprint.replace(":", "")[:16], "not_after": "2027-12-03"}

    assert [json.loads(text) for text in decode_qr(render_png(layout))] == [expected]
    pdf = tmp_path / "label.pdf"
    pdf.write_bytes(render_pdf(layout))
    assert [json.loads(text) for text in decode_qr(pdf_to_png(pdf, tmp_path))] == [expected]
    assert layout.lines == ("CL-000123", "WO WO-7", "to 2027-12-03")


def test_zpl_reaches_a_tcp_printer_with_the_qr_payload_and_escaped_fields(journal: Journal) -> None:
    device = add_done_unit(journal, new_batch(journal, None), "SN^XZ~JR")  # ZPL commands in a serial
    settings = LabelSettings.from_json({"output": "zpl", "target": "127.0.0.1"})
    layout = layout_label(content_for_device(journal, device), settings)
    printer = Listener()
    try:
        send_raw("127.0.0.1", printer.port, render_zpl(layout), deadline_s=5)
        assert printer.done.wait(5)
    finally:
        printer.close()
    data = printer.received[0].decode("ascii")
    assert data.startswith("^XA\n") and data.endswith("^XZ\n")
    assert data.count("^XA") == 1 and data.count("^XZ") == 1, "the serial must not end the label"
    assert "^BQN,2," in data
    payload = layout.qr_payload.replace("^", "\\5E").replace("~", "\\7E")
    assert f"^FH\\^FDMA,{payload}^FS" in data
    assert "^FDSN\\5EXZ\\7EJR^FS" in data


def test_an_absent_zpl_printer_is_named_in_the_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(LabelPrinterError, match=rf"label printer 127\.0\.0\.1:{port}: "):
            send_raw("127.0.0.1", port, b"^XA^XZ", deadline_s=2)


def test_a_printer_that_stops_reading_hits_the_overall_deadline() -> None:
    server = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) but never reads
    port = server.getsockname()[1]
    try:
        with pytest.raises(LabelPrinterError, match=rf"127\.0\.0\.1:{port}: no answer within 0\.5 s"):
            send_raw("127.0.0.1", port, b"^XA" + b"x" * (64 << 20) + b"^XZ", deadline_s=0.5)
    finally:
        server.close()


def test_printer_addresses_and_templates_are_checked() -> None:
    assert parse_host_port("printer-3") == ("printer-3", 9100)
    assert parse_host_port("10.0.0.7:6101") == ("10.0.0.7", 6101)
    assert parse_host_port("[fd00::7]:9100") == ("fd00::7", 9100)
    with pytest.raises(ValueError, match="bad port"):
        parse_host_port("host:99999")
    with pytest.raises(ValueError, match="unknown placeholder"):
        LabelSettings.from_json({"output": "pdf", "target": "/x", "template": ["{serial.__class__}"]})
    with pytest.raises(ValueError, match="unknown placeholder"):
        LabelSettings.from_json({"output": "pdf", "target": "/x", "template": ["{passcode}"]})
    with pytest.raises(ValueError, match="needs a target folder"):
        LabelSettings.from_json({"output": "pdf"})


def test_only_done_units_get_a_label(journal: Journal) -> None:
    batch = new_batch(journal, None)
    snap = journal.add_device(batch, "/dev/ttyACM1", then=[(DeviceState.IDENTIFIED, "identified")])
    journal.transition(snap.device_id, DeviceState.FAILED, "identify", error="no answer")
    with pytest.raises(LabelError, match="not done"):
        content_for_device(journal, snap.device_id)


def test_the_hook_prints_done_units_and_a_printer_failure_leaves_the_unit_done(
    journal: Journal, tmp_path: Path
) -> None:
    folder = tmp_path / "labels"
    bus = EventBus()
    hook = LabelPrinting(journal, bus)
    try:
        good = new_batch(journal, {"output": "pdf", "target": str(folder)})
        device = add_done_unit(journal, good, "CL-1")
        bus.publish(journal.device(device))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            bad = new_batch(journal, {"output": "zpl", "target": f"127.0.0.1:{port}"})
            broken = add_done_unit(journal, bad, "CL-2", port="/dev/ttyACM1")
            bus.publish(journal.device(broken))
            assert hook.wait_idle(10)
    finally:
        hook.close()
    pdfs = list(folder.glob("*.pdf"))
    assert [p.name for p in pdfs] == [hook.printed[device].rsplit("/", 1)[-1]]
    assert pdfs[0].name.startswith("CL-1-")
    assert pdfs[0].stat().st_mode & 0o777 == 0o644  # readable by a print watcher
    assert [json.loads(t)["sn"] for t in decode_qr(pdf_to_png(pdfs[0], tmp_path))] == ["CL-1"]
    assert f"127.0.0.1:{port}" in hook.failed[broken]
    assert journal.device(broken).state is DeviceState.DONE
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*"))


def test_units_done_before_the_hook_started_are_not_printed_again(journal: Journal, tmp_path: Path) -> None:
    batch = new_batch(journal, {"output": "pdf", "target": str(tmp_path / "labels")})
    device = add_done_unit(journal, batch, "CL-OLD")
    bus = EventBus()
    hook = LabelPrinting(journal, bus)
    try:
        bus.publish(journal.device(device))
        assert hook.wait_idle(10)
    finally:
        hook.close()
    assert hook.printed == {} and not (tmp_path / "labels").exists()


def test_cli_reprint_writes_the_pdf_and_an_audit_record(
    certline_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from certline.app.config.paths import station_paths

    journal = Journal(station_paths().journal)
    try:
        device = add_done_unit(journal, new_batch(journal, None), "CL-77")
    finally:
        journal.close()
    out = tmp_path / "reprints"
    assert main(["label", "print", "--serial", "CL-77", "--out", str(out), "--operator", "ana"]) == 0
    assert "printed" in capsys.readouterr().out
    [pdf] = out.glob("*.pdf")
    assert [json.loads(t)["sn"] for t in decode_qr(pdf_to_png(pdf, tmp_path))] == ["CL-77"]

    journal = Journal(station_paths().journal)
    try:
        records = [r for r in journal.audit.records() if r["kind"] == "label-reprinted"]
        assert len(records) == 1
        payload = json.loads(records[0]["payload"])
        assert (payload["device"], payload["serial"], payload["operator"]) == (device, "CL-77", "ana")
        assert journal.audit.verify().ok
    finally:
        journal.close()
    assert main(["label", "print", "--batch", "1", "--device", "99", "--out", str(out)]) == 2
    assert "no device 99" in capsys.readouterr().err


def test_reprint_failure_is_not_audited(journal: Journal) -> None:
    device = add_done_unit(journal, new_batch(journal, None), "CL-9")

    class Jammed:
        def send(self, layout: object, name: str) -> str:
            raise OSError("paper out")

    settings = LabelSettings.from_json(PDF_SETTINGS)
    with pytest.raises(OSError, match="paper out"):
        print_label(journal, device, settings, Jammed(), reprint=True)
    assert not [r for r in journal.audit.records() if r["kind"] == "label-reprinted"]
