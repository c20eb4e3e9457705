"""Scan-in on a real line: simulated units on pseudo-terminals, the EST test server over TLS.

Each unit waits (journaled as awaiting-label) until its label is scanned; a label that names
another unit fails that unit alone, with both values, before anything is written to it.
"""

from __future__ import annotations

import csv
import io
import json

from certline.app.batch.engine import BatchOptions
from certline.app.batch.label_desk import ScanResult
from certline.app.batch.report import render
from certline.app.batch.states import DeviceState
from tests.helpers.waiting import wait_until

from .conftest import start_sim
from .test_nrf91_line import nrf91_units


def test_labels_bind_units_and_a_mismatched_label_fails_only_its_unit_untouched(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 3)
    serials = [d.serial_number for d in sim.devices]
    session = line.session(scan_in="required")
    try:
        engine = session.start_batch(BatchOptions(work_order="WO-SCAN"), sim.ports)
        wait_until(lambda: engine.summary().awaiting_label == 3, 30, "three units waiting for labels")
        assert line.server.issued == []  # held: nothing enrolled before a label is scanned
        assert all(d.flash.get("pending_key") is None for d in sim.devices)  # no key made either
        named_2 = engine.scan(f"https://factory.example/unit?sn={serials[2]}")
        named_0 = engine.scan(json.dumps({"serial": serials[0], "model": "CL-1"}))
        assert (named_2.port, named_0.port) == (sim.devices[2].port, sim.devices[0].port)
        assert engine.scan(serials[0]).result is ScanResult.DUPLICATE
        wrong = engine.scan("CL-999999")  # the only unit left without a label: unit 1
        assert wrong.result is ScanResult.BOUND and wrong.port == sim.devices[1].port
        assert engine.wait(90)
        by_serial = {s.serial_number: s for s in engine.devices()}
        assert by_serial[serials[0]].state == DeviceState.DONE
        assert by_serial[serials[2]].state == DeviceState.DONE
        failed = by_serial[serials[1]]
        assert failed.state == DeviceState.FAILED and failed.error_code == "label-mismatch"
        assert "CL-999999" in (failed.error or "") and serials[1] in (failed.error or "")
        assert failed.scanned_label == "CL-999999"
        assert by_serial[serials[0]].scanned_label == json.dumps({"serial": serials[0], "model": "CL-1"})
        steps = list(dict.fromkeys(t.state for t in session.journal.history(failed.device_id)))
        assert steps[-3:] == [DeviceState.IDENTIFIED, DeviceState.AWAITING_LABEL, DeviceState.FAILED]
        assert DeviceState.KEY_READY not in steps and DeviceState.CSR_READY not in steps
        assert sorted(r.subject for r in line.server.issued) == sorted(
            f"O=Certline Test,CN={s}" for s in (serials[0], serials[2])
        )
        untouched = sim.devices[1].flash
        assert untouched.get("pending_key") is None and untouched.get("chain_pem") is None
        rows = list(csv.DictReader(io.StringIO(render(session.journal, engine.batch_id, "csv"))))
        in_report = {r["serial_number"]: (r["scanned_label"], r["error_code"]) for r in rows}
        assert in_report[serials[1]] == ("CL-999999", "label-mismatch")
    finally:
        session.close()


def test_a_retried_unit_waits_for_a_new_label_and_a_scan_before_plug_in_waits_for_it(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1)
    serial = sim.devices[0].serial_number
    session = line.session(scan_in="required")
    try:
        engine = session.start_batch(BatchOptions(), [])
        assert engine.scan("CL-424242").result is ScanResult.QUEUED  # scanned before plugging in
        engine.add_ports(sim.ports)
        assert engine.wait(60)
        first = engine.devices()[0]
        assert first.error_code == "label-mismatch"
        assert engine.retry_failed() == 1
        wait_until(lambda: engine.summary().awaiting_label == 1, 30, "the retried unit waiting again")
        engine.scan(serial)
        assert engine.wait(60)
        again = engine.devices()[0]
        assert again.device_id == first.device_id and again.state == DeviceState.DONE
        assert again.scanned_label == serial
        assert len(line.server.issued) == 1
    finally:
        session.close()


def test_an_nrf91_unit_is_matched_by_the_imei_on_its_label(line, sims, tmp_path):
    sim = nrf91_units(sims, tmp_path, 2)
    session = line.session(driver="nrf91", scan_in="required")
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        wait_until(lambda: engine.summary().awaiting_label == 2, 30, "two modems waiting for labels")
        imeis = sorted(s.serial_number or "" for s in engine.devices())
        assert all(len(i) == 15 and i.isdigit() for i in imeis)  # read with AT+CGSN=1
        engine.scan(f"IMEI: {imeis[1]}")
        engine.scan(json.dumps({"serial": "NRF-X", "imei": imeis[0]}))
        assert engine.wait(90)
        assert [s.state for s in engine.devices()] == [DeviceState.DONE, DeviceState.DONE]
    finally:
        session.close()


def test_a_unit_unplugged_while_it_waits_keeps_its_row_and_takes_the_label_scanned_meanwhile(
    line, sims, tmp_path
):
    sim = start_sim(sims, tmp_path, 1)
    device = sim.devices[0]
    session = line.session(scan_in="required")
    try:
        engine = session.start_batch(BatchOptions(), [device.port])
        wait_until(lambda: engine.summary().awaiting_label == 1, 30, "the unit waiting for its label")
        device.unplug()
        wait_until(lambda: "device lost" in engine.devices()[0].step, 30, "the unplug noticed")
        assert engine.devices()[0].state == DeviceState.AWAITING_LABEL
        # queued, or bound to the leaving job just before it ends and then kept for this unit
        assert engine.scan(device.serial_number).accepted
        engine.add_port(device.replug())
        assert engine.wait(60)
        (snap,) = engine.devices()
        assert snap.state == DeviceState.DONE and snap.scanned_label == device.serial_number
        assert len(line.server.issued) == 1
    finally:
        session.close()


def test_a_unit_whose_label_never_comes_fails_as_no_label_with_nothing_done(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1)
    session = line.session(scan_in="required", scan_in_timeout=0.5)
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        (snap,) = engine.devices()
        assert snap.state == DeviceState.FAILED and snap.error_code == "no-label"
        assert "no label was scanned for this unit within 0.5 s" in (snap.error or "")
        assert line.server.issued == [] and sim.devices[0].flash.get("pending_key") is None
    finally:
        session.close()


def test_a_resumed_unit_whose_label_matched_before_is_not_asked_again(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 2, keygen_latency=1.0)  # stopped while it makes its key
    first, second = sim.devices
    session = line.session(scan_in="required")
    try:
        engine = session.start_batch(BatchOptions(), [first.port])
        wait_until(lambda: engine.summary().awaiting_label == 1, 30, "the first unit waiting")
        engine.scan(first.serial_number)
        wait_until(lambda: "generating" in engine.devices()[0].step, 30, "the key being made")
        engine.stop()
        assert engine.wait(30)
    finally:
        session.close()
    session = line.session(scan_in="required")  # the station restarts and resumes the batch
    try:
        batch_id = session.journal.batches(1)[0].id
        engine = session.start_batch(BatchOptions(), resume_batch=batch_id)
        engine.add_ports([first.port, second.port])
        wait_until(lambda: engine.summary().awaiting_label == 1, 30, "the second unit waiting")
        assert engine.scan(second.serial_number).port == second.port
        assert engine.wait(60)
        assert [s.state for s in engine.devices()] == [DeviceState.DONE, DeviceState.DONE]
        assert len(line.server.issued) == 2
        resumed = engine.devices()[0].device_id
        asked = [t for t in session.journal.history(resumed) if t.step.startswith("waiting for its label")]
        assert len(asked) == 1, "the resumed unit was asked for its label again"
    finally:
        session.close()
