"""History's "Reprint label": a done unit's label goes out again and the audit records it."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel

from certline.app.batch.journal import Journal
from tests.labels.conftest import add_done_unit, decode_qr, new_batch, pdf_to_png


def test_reprint_from_history_writes_the_label_and_audits_it(
    journal: Journal, tmp_path: Path, qtbot: object
) -> None:
    from certline.ui.batch_dialogs.history import HistoryDialog

    folder = tmp_path / "labels"
    batch = new_batch(journal, {"output": "pdf", "target": str(folder)})
    add_done_unit(journal, batch, "CL-H-1")
    dialog = HistoryDialog(journal, tmp_path / "reports")
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    dialog.show()
    qtbot.waitUntil(lambda: dialog.devices.rowCount() == 1, timeout=5000)  # type: ignore[attr-defined]
    assert not dialog.reprint_button.isEnabled()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    dialog.device_view.selectionModel().select(dialog.devices.index(0, 0), flags)
    assert dialog.reprint_button.isEnabled()
    dialog.reprint_button.click()
    qtbot.waitUntil(lambda: "Label reprinted" in dialog.status.text(), timeout=10000)  # type: ignore[attr-defined]
    [pdf] = folder.glob("*.pdf")
    assert [json.loads(t)["sn"] for t in decode_qr(pdf_to_png(pdf, tmp_path))] == ["CL-H-1"]
    records = [r for r in journal.audit.records() if r["kind"] == "label-reprinted"]
    assert len(records) == 1 and json.loads(records[0]["payload"])["serial"] == "CL-H-1"
