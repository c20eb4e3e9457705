"""Certificate expiry: every unit this station provisioned or renewed, soonest expiry first.

The rows are :func:`certline.app.station.expiry.expiry_rows` (what ``certline expiry``
prints), read from the journal in a worker; "Export CSV…" writes the same
columns as ``certline expiry --format csv`` so a spreadsheet built on one
works with the other.
"""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from certline.app.batch.journal_api import JournalBackend
from certline.app.station.expiry import COLUMNS, expiry_rows, row_urgency
from certline.ui.plumbing.resources import icon
from certline.ui.plumbing.worker import run_in_background
from certline.ui.widgets.certificate_panel import urgency_look

Row = dict[str, object]
ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the whole expiry row, on column 0 (export reads it)
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # expiry columns sort by the ISO date, so "9" sorts before "10"


def urgency_of(row: Row) -> str:
    """The row's urgency on the same scale as the re-enroll view (and ``certline expiry``)."""
    return row_urgency(row)


def write_csv(rows: list[Row], path: Path) -> int:
    """Worker side of "Export CSV…": the ``certline expiry --format csv`` layout. Returns the row count."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


class WithinFilter(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE` and hides rows expiring later than ``within`` days (``None``: all)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.within: float | None = None
        self.setSortRole(SORT_ROLE)

    def set_within(self, days: float | None) -> None:
        self.beginFilterChange()
        self.within = days
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self.within is None:
            return True
        row = self.sourceModel().index(source_row, 0, source_parent).data(ROW_ROLE)
        return float(row["days_left"]) <= self.within


class ExpiryDialog(QDialog):
    """The station's units by certificate expiry, with a "within N days" filter and CSV export.

    Attributes:
        model: one row per unit (its latest certificate); proxy: sorting and the filter.
        view: the table; within_check, within_days: the filter; export_button; status.
    """

    HEADERS = (
        "device_serial",
        "cert_serial",
        "not_after",
        "days_left",
        "urgency",
        "subject",
        "issuer",
        "operation",
        "fingerprint",
    )

    def __init__(self, journal: JournalBackend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.journal = journal
        self.setWindowTitle(self.tr("Certificate expiry"))
        self.model = QStandardItemModel(0, len(self.HEADERS), self)
        self.model.setHorizontalHeaderLabels(self._header_labels())
        self.proxy = WithinFilter(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.within_check = QCheckBox(self.tr("Only units expiring &within"), self)
        self.within_days = QSpinBox(self)
        self.within_days.setRange(0, 3650)
        self.within_days.setValue(30)
        self.within_days.setSuffix(self.tr(" days"))
        self.within_days.setEnabled(False)
        self.export_button = QPushButton(icon("action-export"), self.tr("&Export CSV…"), self)
        self.export_button.setEnabled(False)
        self.status = QLabel(self.tr("Loading…"), self)
        self._lay_out()
        self.within_check.toggled.connect(self._filter_changed)
        self.within_days.valueChanged.connect(self._filter_changed)
        self.export_button.clicked.connect(self._ask_and_export)
        self.resize(1000, 520)
        self.loaded = False
        run_in_background(lambda: expiry_rows(journal), self._show_rows, self._failed, owner=self)

    def _header_labels(self) -> list[str]:
        return [
            self.tr("Unit"),
            self.tr("Certificate serial"),
            self.tr("Expires (UTC)"),
            self.tr("Days left"),
            self.tr("Urgency"),
            self.tr("Subject"),
            self.tr("Issuer"),
            self.tr("Operation"),
            self.tr("SHA-256"),
        ]

    def _lay_out(self) -> None:
        filters = QHBoxLayout()
        filters.addWidget(self.within_check)
        filters.addWidget(self.within_days)
        filters.addStretch(1)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        box.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        layout.addWidget(box)

    # -- loading -------------------------------------------------------------------------
    def _show_rows(self, rows: list[Row]) -> None:
        self.model.removeRows(0, self.model.rowCount())
        for row in rows:
            self.model.appendRow(self._items(row))
        self.view.sortByColumn(self.HEADERS.index("days_left"), Qt.SortOrder.AscendingOrder)
        self.view.resizeColumnsToContents()
        self.loaded = True
        self._update_status()

    def _items(self, row: Row) -> list[QStandardItem]:
        """One row of cells; expiry-related cells carry the urgency word, icon and colour."""
        look = urgency_look(urgency_of(row))
        expiry_key = f"{row['not_after']}|{row.get('device_serial') or ''}"  # ties broken, order stable
        items = []
        for name in self.HEADERS:
            value = look.text if name == "urgency" else row.get(name)
            item = QStandardItem("—" if value is None else str(value))
            by_expiry = name in ("not_after", "days_left", "urgency")
            item.setData(expiry_key if by_expiry else str(value or ""), SORT_ROLE)
            if name in ("days_left", "urgency"):
                item.setForeground(look.colour)
                item.setToolTip(look.text)
            if name == "urgency":
                item.setIcon(look.icon)
            items.append(item)
        items[0].setData(row, ROW_ROLE)
        return items

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(self.tr("Cannot read the journal: %1").replace("%1", str(exc)))

    # -- filter and export ---------------------------------------------------------------
    def _filter_changed(self) -> None:
        on = self.within_check.isChecked()
        self.within_days.setEnabled(on)
        self.proxy.set_within(float(self.within_days.value()) if on else None)
        self._update_status()

    def _update_status(self) -> None:
        shown = self.proxy.rowCount()  # a plain name: lupdate 6.11 cannot parse a call as the count
        self.status.setText(self.tr("%n unit(s)", "", shown))
        self.export_button.setEnabled(self.loaded and shown > 0)

    def visible_rows(self) -> list[Row]:
        """The rows as shown: filtered, in the table's current order."""
        return [self.proxy.index(r, 0).data(ROW_ROLE) for r in range(self.proxy.rowCount())]

    def _ask_and_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export expiry list"), "certline-expiry.csv", self.tr("CSV files (*.csv)")
        )
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> None:
        """Write the visible rows to ``path`` in a worker; the result shows in the status line."""
        rows = self.visible_rows()
        self.export_button.setEnabled(False)
        run_in_background(lambda: write_csv(rows, path), self._exported, self._export_failed, owner=self)

    def _exported(self, count: int) -> None:
        self.export_button.setEnabled(True)
        self.status.setText(self.tr("Exported %n unit(s).", "", count))

    def _export_failed(self, exc: BaseException) -> None:
        self.export_button.setEnabled(True)
        self.status.setText(self.tr("Cannot write the file: %1").replace("%1", str(exc)))
