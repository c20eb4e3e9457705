"""Journal tests run against both backends: SQLite (a temp file) and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certline.app.batch.journal import Journal
from certline.app.batch.journal_api import JournalBackend
from tests.helpers.pg_cluster import PgCluster, pg_cluster, pg_url  # noqa: F401 - fixtures


@pytest.fixture(params=["sqlite", "postgresql"])
def journal(request: pytest.FixtureRequest, tmp_path) -> Iterator[JournalBackend]:
    if request.param == "sqlite":
        j: JournalBackend = Journal(tmp_path / "journal.sqlite3", station="st-1")
    else:
        from certline.app.batch.journal_pg import PgJournal

        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = request.getfixturevalue("pg_url")
        j = PgJournal(url, station="st-1", password=cluster.password, audit_head=tmp_path / "head")
    yield j
    j.close()
