"""The passcode gate and the token bucket, without a server: what units see before a request."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from certline.app.batch.journal import Journal
from certline.app.batch.passcode_quota import PasscodePolicy, PasscodeQuota, QuotaWaitStopped
from certline.app.batch.rate_limit import TokenBucket
from certline.app.batch.states import DeviceState
from certline.app.config.profile import AuthStyle, Profile


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite3", station="st-1")
    yield j
    j.close()


def _units(journal: Journal, count: int) -> list[int]:
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    return [
        journal.add_device(batch, f"/dev/tty{i}", then=[(DeviceState.IDENTIFIED, "identified")]).device_id
        for i in range(count)
    ]


class _Stop:
    """A stop switch that is set after ``polls`` waits (so a blocked unit gives up in the test)."""

    def __init__(self, polls: int = 1) -> None:
        self.polls = polls
        self.waits = 0

    def is_set(self) -> bool:
        return self.waits >= self.polls

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return self.is_set()


def test_a_unit_waits_when_the_uses_are_spent_and_says_why(journal):
    a, b = _units(journal, 2)
    quota = PasscodeQuota(journal, PasscodePolicy("gen-1", max_uses=1))
    changes: list[str | None] = []
    quota.on_change = changes.append
    assert quota.reserve(a, on_wait=lambda _m: None, stop=_Stop()) == "gen-1"
    told: list[str] = []
    with pytest.raises(QuotaWaitStopped):
        quota.reserve(b, on_wait=told.append, stop=_Stop())
    assert told and "uses are spent" in told[0] and "0 of 1 uses left" in told[0]
    assert quota.waiting_reason == told[0] and changes == [told[0]]

    quota.replace(PasscodePolicy("gen-2", max_uses=5))
    assert quota.waiting_reason is None and changes[-1] is None
    assert quota.reserve(b, on_wait=told.append, stop=_Stop()) == "gen-2"
    assert journal.passcode_usage("gen-2").in_flight == 1


def test_an_expired_passcode_sends_nothing(journal):
    (unit,) = _units(journal, 1)
    now = datetime(2026, 12, 4, tzinfo=UTC)
    quota = PasscodeQuota(
        journal, PasscodePolicy("gen-1", expires=now - timedelta(minutes=1)), now=lambda: now
    )
    told: list[str] = []
    with pytest.raises(QuotaWaitStopped):
        quota.reserve(unit, on_wait=told.append, stop=_Stop())
    assert told[0].startswith("the passcode expired on 2026-12-03 23:59 UTC")
    assert journal.passcode_usage("gen-1").spent == 0


def test_a_401_after_successes_is_passcode_exhausted_and_holds_every_unit(journal):
    a, b, c = _units(journal, 3)
    quota = PasscodeQuota(journal, PasscodePolicy("gen-1", max_uses=100))
    quota.reserve(a, on_wait=lambda _m: None, stop=_Stop())
    quota.paid("gen-1", a)
    quota.reserve(b, on_wait=lambda _m: None, stop=_Stop())
    message = quota.refused("gen-1", b)
    assert message is not None and message.startswith("passcode exhausted or expired")
    assert "1 enrollment made with passcode 'gen-1'" in message and "99 of 100 uses left" in message
    assert journal.passcode_usage("gen-1").in_flight == 0, "the refused request cost nothing"
    with pytest.raises(QuotaWaitStopped):  # uses are left by the count, yet nothing is sent
        quota.reserve(c, on_wait=lambda _m: None, stop=_Stop(3))


def test_a_401_on_a_fresh_or_unnamed_passcode_is_a_plain_authentication_failure(journal):
    a, b = _units(journal, 2)
    fresh = PasscodeQuota(journal, PasscodePolicy("gen-new"))
    fresh.reserve(a, on_wait=lambda _m: None, stop=_Stop())
    assert fresh.refused("gen-new", a) is None

    policy = PasscodePolicy.of(Profile(name="p", enroll_url="https://est.example/.well-known/est"))
    assert policy is not None and policy.passcode_id == "profile:p" and not policy.named
    unnamed = PasscodeQuota(journal, policy)
    unnamed.reserve(a, on_wait=lambda _m: None, stop=_Stop())
    unnamed.paid(policy.passcode_id, a)
    unnamed.reserve(b, on_wait=lambda _m: None, stop=_Stop())
    assert unnamed.refused(policy.passcode_id, b) is None


def test_client_certificate_profiles_have_no_passcode_gate():
    profile = Profile(
        name="p", enroll_url="https://est.example/.well-known/est", auth_style=AuthStyle.CLIENT_CERT
    )
    assert PasscodePolicy.of(profile) is None


def test_the_token_bucket_spaces_requests_evenly_whoever_asks():
    clock = [100.0]
    bucket = TokenBucket(30, clock=lambda: clock[0])  # one every 2 s
    assert [bucket.reserve() for _ in range(3)] == [0.0, 2.0, 4.0]
    clock[0] += 10  # idle time does not build up a burst
    assert [bucket.reserve() for _ in range(2)] == [0.0, 2.0]


def test_a_stopped_unit_gives_up_its_wait_for_the_rate():
    clock = [0.0]
    bucket = TokenBucket(6, clock=lambda: clock[0])
    assert bucket.acquire(threading.Event())
    stop = threading.Event()
    stop.set()
    assert not bucket.acquire(stop)


def test_the_wait_is_announced_once_not_at_every_count_change(journal):
    a, b, c = _units(journal, 3)
    quota = PasscodeQuota(journal, PasscodePolicy("gen-1", max_uses=1))
    changes: list[str | None] = []
    quota.on_change = changes.append
    quota.reserve(a, on_wait=lambda _m: None, stop=_Stop())
    for unit in (b, c):
        with pytest.raises(QuotaWaitStopped):
            quota.reserve(unit, on_wait=lambda _m: None, stop=_Stop())
        if unit == b:
            quota.paid("gen-1", a)  # the counts in the reason change: in flight -> issued
    assert len(changes) == 1 and "0 of 1 uses left" in (changes[0] or "")
    assert "1 enrollment made" in (quota.waiting_reason or ""), "the reason itself is current"
