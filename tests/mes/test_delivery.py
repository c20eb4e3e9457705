"""Hand-off to the MES against a local HTTPS MES that fails, hangs and recovers.

The outbox is the real SQLite journal; records are made by real DONE transitions. What the line
relies on: nothing is lost while the MES is down, each record reaches the MES once per key (a
retry carries the same key and the same bytes), the backlog is counted, and a restarted station
delivers what was left.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest

from certline.app.batch.events import EventBus, MesStatus
from certline.app.batch.journal import Journal
from certline.app.mes.config import MesConfig, MesConfigError, check_url
from certline.app.mes.delivery import MesDelivery
from certline.app.mes.http_post import MesPoster
from certline.app.security.redaction import register_secret
from tests.helpers.mes_server import fake_mes
from tests.helpers.waiting import wait_until
from tests.journal.test_journal_backends import _walk_to_done


def _journal_with_units(path: Path, count: int) -> tuple[Journal, list[int]]:
    journal = Journal(path, station="st-1")
    batch = journal.create_batch(profile_name="p", profile_json={}, work_order="WO-1", operator="ana")
    return journal, [_walk_to_done(journal, batch, f"S{n}") for n in range(count)]


def test_mes_fails_then_hangs_then_recovers_and_gets_each_record_once(tmp_path):
    journal, devices = _journal_with_units(tmp_path / "j.sqlite3", 3)
    keys = [r.key for r in journal.mes_pending("http")]
    with fake_mes(tmp_path) as mes:
        delivery = MesDelivery(journal, MesConfig(url=mes.url, ca_file=mes.ca_file, timeout=1.0))
        try:
            mes.mode = "fail"
            delivery.deliver_round(ignore_backoff=True)
            assert len(mes.requests) == 1  # a down MES is not hammered with the rest of the queue
            assert delivery.status.waiting == 3
            assert "HTTP 500" in (delivery.status.last_error or "")

            mes.mode = "hang"
            delivery.deliver_round(ignore_backoff=True)  # returns: the overall deadline cut the POST off
            assert delivery.status.waiting == 3
            assert "did not answer within 1 s" in (delivery.status.last_error or "")

            mes.mode = "ok"
            delivery.deliver_round(ignore_backoff=True)
            assert delivery.status.waiting == 0
            delivery.deliver_round(ignore_backoff=True)  # nothing left: nothing sent again
        finally:
            delivery.close()
        assert sorted(mes.stored) == sorted(keys)
        first = mes.sent(keys[0])
        assert [r.answered for r in first] == [500, None, 201]
        assert len({r.body for r in first}) == 1  # every retry carried the very same bytes
        assert all(mes.answered_2xx(key) == 1 for key in keys)
        assert len(mes.requests) == 5
        record = mes.stored[keys[0]]
        assert record["idempotency_key"] == keys[0] and record["device"] == devices[0]
    journal.close()


def test_a_restarted_station_delivers_the_backlog_from_its_journal(tmp_path):
    path = tmp_path / "j.sqlite3"
    journal, _devices = _journal_with_units(path, 2)
    with socket.socket() as probe:  # a port nobody listens on: the MES is down
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/mes"
    down = MesDelivery(journal, MesConfig(url=dead, timeout=1.0))
    down.deliver_round(ignore_backoff=True)
    assert down.status.waiting == 2 and "connection refused" in (down.status.last_error or "")
    down.close()
    journal.close()  # the station is switched off with its backlog

    journal = Journal(path, station="st-1")
    bus = EventBus()
    statuses: list[MesStatus] = []
    bus.subscribe(lambda e: statuses.append(e) if isinstance(e, MesStatus) else None)
    with fake_mes(tmp_path) as mes:
        delivery = MesDelivery(journal, MesConfig(url=mes.url, ca_file=mes.ca_file), bus=bus).start()
        try:
            wait_until(lambda: len(mes.stored) == 2, 20, "the backlog delivered after the restart")
            wait_until(lambda: delivery.status.waiting == 0, 20, "the backlog counted down")
        finally:
            delivery.close()
    assert statuses[-1].waiting == 0 and statuses[-1].channels == ("http",)
    assert journal.mes_backlog(["http"]).waiting == 0
    journal.close()


def test_the_worker_retries_with_backoff_until_the_mes_is_back_and_counts_the_backlog(tmp_path):
    journal, _devices = _journal_with_units(tmp_path / "j.sqlite3", 2)
    bus = EventBus()
    statuses: list[MesStatus] = []
    bus.subscribe(lambda e: statuses.append(e) if isinstance(e, MesStatus) else None)
    with fake_mes(tmp_path) as mes:
        mes.mode = "fail"
        config = MesConfig(url=mes.url, ca_file=mes.ca_file, timeout=2.0)
        delivery = MesDelivery(journal, config, bus=bus, base_backoff=0.05, max_backoff=0.2).start()
        try:
            wait_until(lambda: len(mes.requests) >= 3, 20, "retries while the MES fails")
            assert any(s.waiting == 2 and s.last_error for s in statuses)
            assert not mes.stored
            mes.mode = "ok"
            wait_until(lambda: delivery.status.waiting == 0, 20, "delivery once the MES is back")
        finally:
            delivery.close()
        assert len(mes.stored) == 2
        assert all(mes.answered_2xx(key) == 1 for key in mes.stored)
    journal.close()


def test_the_request_carries_the_key_header_and_the_token_which_never_reaches_a_message(tmp_path, caplog):
    journal, _devices = _journal_with_units(tmp_path / "j.sqlite3", 1)
    token = "mes-token-5b1e9c"  # a test value, registered as the credential source would
    register_secret(token)
    with fake_mes(tmp_path) as mes:
        mes.mode = "fail"
        mes.fail_body = f"bad token {token}".encode()  # a MES that echoes what it was sent
        config = MesConfig(url=mes.url, ca_file=mes.ca_file, token=token)
        delivery = MesDelivery(journal, config)
        with caplog.at_level(logging.DEBUG):
            delivery.deliver_round(ignore_backoff=True)
        assert token not in (delivery.status.last_error or "") and "HTTP 500" in (
            delivery.status.last_error or ""
        )
        assert token not in caplog.text
        mes.mode = "ok"
        delivery.deliver_round(ignore_backoff=True)
        delivery.close()
        sent = mes.requests[-1]
        record = json.loads(sent.body)
        assert sent.key == record["idempotency_key"]
        assert sent.authorization == f"Bearer {token}"
    journal.close()


def test_an_untrusted_mes_certificate_is_refused_and_the_record_kept(tmp_path):
    journal, _devices = _journal_with_units(tmp_path / "j.sqlite3", 1)
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    with fake_mes(tmp_path) as mes, fake_mes(other_ca) as other:
        delivery = MesDelivery(journal, MesConfig(url=mes.url, ca_file=other.ca_file))
        delivery.deliver_round(ignore_backoff=True)
        delivery.close()
        assert not mes.stored
    assert "not trusted" in (journal.mes_backlog(["http"]).last_error or "")
    journal.close()


@pytest.mark.parametrize(
    "url",
    ["http://mes.factory.example/api", "ftp://127.0.0.1/x", "https://user:pw@mes.example/api"],
)
def test_a_mes_url_that_would_send_records_unprotected_is_refused(url):
    with pytest.raises(MesConfigError):
        check_url(url)
    with pytest.raises(MesConfigError):
        MesPoster(MesConfig(url=url))


def test_plain_http_to_this_computer_is_accepted():
    check_url("http://127.0.0.1:8080/mes")
    check_url("http://localhost/mes")


def test_a_crash_between_the_mes_answer_and_the_journal_mark_resends_the_same_key_and_bytes(tmp_path):
    """At-least-once: the record goes again after the restart, and the key makes it harmless."""
    path = tmp_path / "j.sqlite3"
    journal, _devices = _journal_with_units(path, 1)

    class PowerCut(BaseException):
        pass

    def cut(_key: str, _channel: str) -> None:
        raise PowerCut

    with fake_mes(tmp_path) as mes:
        config = MesConfig(url=mes.url, ca_file=mes.ca_file)
        journal.mes_mark_delivered = cut  # type: ignore[method-assign]
        with pytest.raises(PowerCut):
            MesDelivery(journal, config).deliver_round(ignore_backoff=True)
        journal.close()
        journal = Journal(path, station="st-1")  # the station comes back
        delivery = MesDelivery(journal, config)
        delivery.deliver_round(ignore_backoff=True)
        delivery.close()
        (key,) = mes.stored
        sent = mes.sent(key)
        assert [r.answered for r in sent] == [201, 200]  # the MES kept one and answered the replay
        assert sent[0].body == sent[1].body
        assert delivery.status.waiting == 0
    journal.close()


def test_a_failed_delivery_names_the_unit_by_its_serial_number(tmp_path, caplog):
    """The window's table and the technician know units by serial number, not by journal row."""
    journal, devices = _journal_with_units(tmp_path / "j.sqlite3", 1)
    with socket.socket() as probe:  # a port nobody listens on: the MES is down
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/mes"
    delivery = MesDelivery(journal, MesConfig(url=dead, timeout=1.0))
    try:
        with caplog.at_level(logging.WARNING, logger="certline.app.mes.delivery"):
            delivery.deliver_round(ignore_backoff=True)
    finally:
        delivery.close()
        journal.close()
    assert f"MES record of S0 (unit {devices[0]}) not delivered (http)" in caplog.text
