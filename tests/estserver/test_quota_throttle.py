"""The EST test server's throttle window and Retry-After forms (issue 19)."""

from __future__ import annotations

import email.utils
import time

from certline.app.estserver.quota import PasscodeUses, Throttle, retry_after_header


def test_the_throttle_admits_r_per_window_and_says_when_the_oldest_leaves():
    clock = [1000.0]
    throttle = Throttle(clock=lambda: clock[0])
    assert throttle.admit(2, 60.0) is None
    clock[0] += 10
    assert throttle.admit(2, 60.0) is None
    clock[0] += 5
    assert throttle.admit(2, 60.0) == 45.0  # the first leaves the window at 1060
    assert throttle.refused == 1
    clock[0] = 1060.0
    assert throttle.admit(2, 60.0) is None
    assert throttle.admit(None, 60.0) is None


def test_retry_after_in_both_forms_of_rfc_9110():
    assert retry_after_header(0.2, as_date=False) == "1"
    assert retry_after_header(44.1, as_date=False) == "45"
    when = email.utils.parsedate_to_datetime(retry_after_header(30, as_date=True))
    assert 30 <= when.timestamp() - time.time() <= 33


def test_passcode_uses_are_counted_per_passcode():
    uses = PasscodeUses()
    uses.count("a")
    assert uses.spent("a", 1) and not uses.spent("b", 1) and not uses.spent("a", None)
