"""``certline reenroll --profile NAME --port PATH`` end to end: the shipped simulator on a real
pseudo-terminal, the EST test server over real sockets, the station's own journal and profile
store under the test's CERTLINE_HOME."""

from __future__ import annotations

import pytest

from certline.app.batch.engine import BatchOptions
from certline.app.cli.main import main
from certline.app.config.paths import station_paths
from certline.app.config.profile_store import ProfileStore
from certline.app.station import StationSession
from tests.integration.conftest import start_sim


@pytest.mark.parametrize("rekey", [True, False], ids=["rekey", "same-key"])
def test_reenroll_says_whether_the_unit_has_a_new_key(  # type: ignore[no-untyped-def]
    line, sims, tmp_path, capsys, rekey: bool
) -> None:
    """Found by a newcomer: after 'reenroll --rekey' nothing said that the unit now has a new key;
    the certificate lines alone do not show it."""
    sim = start_sim(sims, tmp_path, 1)
    profile = line.profile()
    ProfileStore().save(profile)
    session = StationSession(profile, line.credentials(), paths=station_paths(), device_hosts=0)
    try:
        engine = session.start_batch(BatchOptions(work_order="WO-R"), sim.ports)
        assert engine.wait(120) and engine.all_verified()
    finally:
        session.close()
    capsys.readouterr()

    argv = ["reenroll", "--profile", profile.name, "--port", sim.ports[0], *(["--rekey"] if rekey else [])]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Renewed certificate (written to the unit and verified)" in out
    if rekey:
        assert "Key: new (re-key)" in out and "Key: unchanged" not in out
    else:
        assert "Key: unchanged" in out and "re-key)" not in out
