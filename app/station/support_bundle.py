"""The support bundle: one zip a technician can send when something went wrong.

Contents: the newest log files and crash reports, the current batch as the
JSON report (journal extract: devices, steps' outcome, certificates), the
profile (never a secret: profiles hold none, and everything is scrubbed once
more), and a short ``about.json`` with versions. Blocking (journal reads, file
writes): the window runs it in a worker thread.
"""

from __future__ import annotations

import json
import os
import platform
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from certline.app import __version__
from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.report import build_json_report
from certline.app.config.profile import Profile
from certline.app.host.versions import component_versions
from certline.app.security.redaction import scrub

MAX_LOG_FILES = 8
MAX_LOG_BYTES = 8 * 1024 * 1024


def default_bundle_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"certline-support-{stamp}.zip"


def recent_logs(logs_dir: Path) -> list[Path]:
    """Newest log files and crash reports first, at most :data:`MAX_LOG_FILES`."""
    if not logs_dir.is_dir():
        return []
    candidates = [
        p for p in logs_dir.iterdir() if p.is_file() and (".log" in p.name or p.name.startswith("crash-"))
    ]
    candidates.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return candidates[:MAX_LOG_FILES]


def _read_tail(path: Path) -> str:
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - MAX_LOG_BYTES))
        return fh.read().decode("utf-8", "replace")


def batch_extract(journal: JournalBackend, batch_id: int) -> dict:
    """The batch as the JSON report has it."""
    return build_json_report(journal, batch_id)


def write_support_bundle(
    destination: Path,
    *,
    logs_dir: Path,
    journal: JournalBackend,
    profile: Profile,
    batch_id: int | None,
) -> Path:
    """Write the zip to ``destination`` (owner-only) and return it."""
    about = {
        "certline": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "batch": batch_id,
        # Python, OpenSSL, SQLite, zlib, expat, Qt: what a security advisory is checked against
        "components": component_versions(),
    }
    tmp = destination.with_name(f".{destination.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("about.json", json.dumps(about, indent=2))
        bundle.writestr("profile.json", scrub(json.dumps(profile.to_json(), indent=2)))
        if batch_id is not None:
            extract = json.dumps(batch_extract(journal, batch_id), indent=2, default=str)
            bundle.writestr(f"batch-{batch_id}.json", scrub(extract))
        for path in recent_logs(logs_dir):
            bundle.writestr(f"logs/{path.name}", scrub(_read_tail(path)))
    os.chmod(tmp, 0o600)
    os.replace(tmp, destination)
    return destination
