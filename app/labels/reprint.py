"""Print one DONE unit's label on demand (History's "Reprint label", ``certline label print``).

A reprint is recorded in the journal's audit chain: a second physical label
for one certificate is something an auditor wants to see.
"""

from __future__ import annotations

import json

from certline.app.batch.journal_api import JournalBackend
from certline.app.labels.content import LabelContent, content_for_device
from certline.app.labels.layout import layout_label
from certline.app.labels.outputs import LabelSink, safe_stem
from certline.app.labels.settings import (
    DEFAULT_TEMPLATE,
    LabelOutput,
    LabelSettings,
    settings_from_profile_json,
)


def settings_for_batch(journal: JournalBackend, batch_id: int) -> LabelSettings | None:
    """The label settings of the profile the batch ran under (as journaled), or None."""
    return settings_from_profile_json(journal.batch(batch_id).profile_json)


def reprint_settings(journal: JournalBackend, batch_id: int) -> LabelSettings:
    """The batch's label settings, or the default template when its profile had none."""
    settings = settings_for_batch(journal, batch_id)
    return settings or LabelSettings(DEFAULT_TEMPLATE, LabelOutput.SYSTEM, "")


def label_name(content: LabelContent) -> str:
    """File stem: serial plus certificate prefix, so a renewed unit's label does not overwrite the old one."""
    return safe_stem(f"{content.serial}-{content.sha256_prefix[:8]}")


def print_label(
    journal: JournalBackend,
    device_id: int,
    settings: LabelSettings,
    sink: LabelSink,
    *,
    reprint: bool,
    operator: str | None = None,
) -> str:
    """Render and send one label; a reprint is appended to the audit after it went out."""
    content = content_for_device(journal, device_id)
    where = sink.send(layout_label(content, settings), label_name(content))
    if reprint:
        journal.append_audit(
            "label-reprinted",
            {
                "device": device_id,
                "batch": content.batch,
                "serial": content.serial,
                "cert_serial": content.cert_serial,
                "output": where,
                "operator": operator,
                "qr": json.loads(content.qr_payload()),
            },
        )
    return where
