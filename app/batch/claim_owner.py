"""Who holds a unit's one job slot: claim owners (host, process, job) and whether one still runs.

Both journal backends use these: the SQLite journal takes over a claim whose process is gone;
the shared journal does that too for this host's processes and, for another station's, relies
on the claim's lease (see :meth:`certline.app.batch.journal_pg.PgJournal.claim`).
"""

from __future__ import annotations

import os
import socket
import uuid

LIVE_OWNERS: set[str] = set()
"""Claim owners of this process whose job still runs (released ones are removed)."""


def _process_tag() -> str:
    """pid plus the process start time, so a recycled pid never looks like the old process."""
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            start = handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = "0"
    return f"{pid}:{start}"


def new_claim_owner(job: str) -> str:
    """A claim owner for one job: ``host/pid:start/job#random``."""
    return f"{socket.gethostname()}/{_process_tag()}/{job}#{uuid.uuid4().hex[:12]}"


def claim_owner_host(owner: str) -> str:
    """The host part of a claim owner."""
    return owner.partition("/")[0]


def claim_owner_alive(owner: str) -> bool:
    """Whether the job holding a claim may still run.

    Same process: only while the job has not released it. Another process on this host: while
    that process runs. Another host: assumed alive (a shared journal must expire those claims
    by its own lease rules; a SQLite journal is only ever used by one station).
    """
    host, _, rest = owner.partition("/")
    process, _, _job = rest.partition("/")
    if host != socket.gethostname():
        return True
    if process == _process_tag():
        return owner in LIVE_OWNERS
    pid_text, _, start = process.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19] == start
    except (OSError, IndexError):
        pass
    if os.path.exists("/proc/self/stat"):
        return False  # /proc exists but not that pid: the process is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
