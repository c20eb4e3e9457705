"""The Statistics view: the line's throughput, yield, failure Pareto, step times and stations as charts.

The numbers are :func:`certline.app.station.line_stats.line_stats` (what ``certline stats``
prints), computed in a worker; this module only draws them. Charts use pyqtgraph:
maintained, pure Python on top of the Qt we already ship (PySide6-Essentials; QtCharts
would need the ~170 MB PySide6-Addons, matplotlib brings its own renderer, fonts and
several compiled packages). pyqtgraph and numpy are imported when the view first opens,
never at start-up. "Export PNG…" saves the charts as shown; "Export CSV…" writes the
``certline stats --format csv`` text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from certline.app.batch.journal_api import JournalBackend
from certline.app.config.paths import refuse_station_config_target
from certline.app.station.line_stats import StatsScope, line_stats
from certline.app.station.line_stats_export import to_csv
from certline.ui.plumbing.worker import run_in_background

if TYPE_CHECKING:
    from certline.ui.station.window import MainWindow

translate = QCoreApplication.translate

Stats = dict[str, Any]
_DONE_BRUSH = "#2e7d32"
_FAILED_BRUSH = "#c62828"
_P50_BRUSH = "#1565c0"
_P95_BRUSH = "#90caf9"


def install(window: MainWindow) -> QAction:
    """Add "Statistics…" to the menu that holds "History…"; the view's code loads when it opens."""
    action = QAction(translate("MainWindow", "S&tatistics…"), window)
    action.setStatusTip(translate("MainWindow", "Units per hour, yield and failures of a work order"))
    history = window.station_actions.history
    menu = next((o for o in history.associatedObjects() if isinstance(o, QMenu)), None)
    if menu is not None:
        menu.addAction(action)
    action.triggered.connect(lambda: open_statistics(window))
    return action


def open_statistics(window: MainWindow) -> StatisticsDialog:
    dialog = StatisticsDialog(window.session.journal, window, work_order=_current_work_order(window))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def _current_work_order(window: MainWindow) -> str:
    """The work order in the station bar: the one the supervisor is most likely asking about."""
    return window.station_bar.work_order.text().strip()


def write_text(text: str, path: Path) -> Path:
    """Worker side of the exports that are text (CSV)."""
    refuse_station_config_target(path)
    path.write_text(text, encoding="utf-8")
    return path


def write_png(image: QImage, path: Path) -> Path:
    """Worker side of "Export PNG…" (a QImage, unlike a QPixmap, may be saved off the GUI thread)."""
    refuse_station_config_target(path)
    if not image.save(str(path)):  # the format follows the .png suffix export_png ensures
        raise OSError(f"cannot write {path}")
    return path


class StatisticsDialog(QDialog):
    """Charts of one work order (empty: every batch in the journal).

    Attributes:
        work_order, batch: the filters (batch 0: all); show_button reloads.
        summary: yield and counts in words; status: the last export.
        charts: widget holding the five plots (``plots`` by name); stats: the numbers shown.
    """

    def __init__(
        self, journal: JournalBackend, parent: QWidget | None = None, *, work_order: str = ""
    ) -> None:
        super().__init__(parent)
        self.journal = journal
        self.stats: Stats | None = None
        self.setWindowTitle(self.tr("Line statistics"))
        self.work_order = QLineEdit(work_order, self)
        self.work_order.setPlaceholderText(self.tr("all work orders"))
        self.batch = QSpinBox(self)
        self.batch.setRange(0, 2_000_000_000)
        self.batch.setSpecialValueText(self.tr("all batches"))
        self.show_button = QPushButton(self.tr("&Show"), self)
        self.summary = QLabel(self.tr("Loading…"), self)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel(self)
        self.last_export: Path | None = None
        self.png_button = QPushButton(self.tr("Export &PNG…"), self)
        self.csv_button = QPushButton(self.tr("Export &CSV…"), self)
        self.charts = QWidget(self)
        self.plots = self._build_plots()
        self._lay_out()
        self.show_button.clicked.connect(self.reload)
        self.work_order.returnPressed.connect(self.reload)
        self.png_button.clicked.connect(self._ask_png)
        self.csv_button.clicked.connect(self._ask_csv)
        self.resize(1100, 760)
        self.reload()

    # -- layout --------------------------------------------------------------------------
    def _build_plots(self) -> dict[str, Any]:
        import pyqtgraph as pg  # noqa: PLC0415 - lazily: numpy + pyqtgraph load only when the view opens

        pg.setConfigOptions(antialias=True, background="w", foreground="k")
        titles = {
            "per_hour": self.tr("Units per hour (green: done, red: failed)"),
            "by_step": self.tr("Failures by step (bars) and cumulative share (line)"),
            "by_cause": self.tr("Failures by cause (bars) and cumulative share (line)"),
            "step_times": self.tr("Time per step in seconds (dark: p50, light: p95)"),
            "stations": self.tr("First-pass yield per station (%)"),
        }
        places = {"per_hour": (0, 0, 1, 1), "stations": (0, 1, 1, 1), "by_step": (1, 0, 1, 1)}
        places |= {"by_cause": (1, 1, 1, 1), "step_times": (2, 0, 1, 2)}  # nine steps need the width
        plots = {}
        grid = QGridLayout(self.charts)
        for name, title in titles.items():
            plot = pg.PlotWidget(self.charts, title=title)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plots[name] = plot
            grid.addWidget(plot, *places[name])
        return plots

    def _lay_out(self) -> None:
        filters = QHBoxLayout()
        label = QLabel(self.tr("&Work order:"), self)
        label.setBuddy(self.work_order)
        filters.addWidget(label)
        filters.addWidget(self.work_order, 1)
        batch_label = QLabel(self.tr("&Batch:"), self)
        batch_label.setBuddy(self.batch)
        filters.addWidget(batch_label)
        filters.addWidget(self.batch)
        filters.addWidget(self.show_button)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        box.addButton(self.png_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.addButton(self.csv_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.summary)
        layout.addWidget(self.charts, 1)
        layout.addWidget(self.status)
        layout.addWidget(box)

    # -- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        scope = StatsScope(
            work_order=self.work_order.text().strip() or None, batch_id=self.batch.value() or None
        )
        self._set_busy(True)
        self.summary.setText(self.tr("Loading…"))
        journal = self.journal
        run_in_background(lambda: line_stats(journal, scope).to_dict(), self._show, self._failed, owner=self)

    def _set_busy(self, busy: bool) -> None:
        self.show_button.setEnabled(not busy)
        ready = not busy and self.stats is not None
        self.png_button.setEnabled(ready)
        self.csv_button.setEnabled(ready)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.summary.setText(self.tr("Cannot read the journal: %1").replace("%1", str(exc)))

    def _show(self, stats: Stats) -> None:
        self.stats = stats
        self._set_busy(False)
        self.summary.setText(self._summary_text(stats))
        self._draw_per_hour(stats["units_per_hour"])
        self._draw_pareto(self.plots["by_step"], stats["failures_by_step"])
        self._draw_pareto(self.plots["by_cause"], stats["failures_by_cause"])
        self._draw_step_times(stats["step_times"])
        self._draw_stations(stats["stations"])

    def _summary_text(self, stats: Stats) -> str:
        units = stats["units"]
        fpy = units["first_pass_yield"]
        return (
            self.tr(
                "First-pass yield %1 (%2 of %3 units); done %4, still failed %5, in progress %6, failures %7."
            )
            .replace("%1", f"{fpy:.1%}" if fpy is not None else "—")
            .replace("%2", str(units["first_pass"]))
            .replace("%3", str(units["attempted"]))
            .replace("%4", str(units["done"]))
            .replace("%5", str(units["still_failed"]))
            .replace("%6", str(units["in_progress"]))
            .replace("%7", str(units["failures"]))
        )

    # -- drawing -------------------------------------------------------------------------
    @staticmethod
    def _categories(plot: Any, labels: list[str]) -> None:
        plot.getAxis("bottom").setTicks([list(enumerate(labels))])
        plot.setXRange(-0.6, max(len(labels), 1) - 0.4, padding=0)

    def _draw_per_hour(self, hours: list[Stats]) -> None:
        import pyqtgraph as pg  # noqa: PLC0415

        plot = self.plots["per_hour"]
        plot.clear()
        xs = list(range(len(hours)))
        done = [h["done"] for h in hours]
        failed = [h["failed"] for h in hours]
        plot.addItem(pg.BarGraphItem(x=[x - 0.2 for x in xs], height=done, width=0.4, brush=_DONE_BRUSH))
        plot.addItem(pg.BarGraphItem(x=[x + 0.2 for x in xs], height=failed, width=0.4, brush=_FAILED_BRUSH))
        self._categories(plot, [h["hour"][5:16].replace("T", " ") for h in hours])
        plot.setYRange(0, max([*done, *failed, 1]) * 1.1, padding=0)

    def _draw_pareto(self, plot: Any, rows: list[Stats]) -> None:
        import pyqtgraph as pg  # noqa: PLC0415

        plot.clear()
        counts = [r["count"] for r in rows]
        plot.addItem(pg.BarGraphItem(x=list(range(len(rows))), height=counts, width=0.6, brush=_FAILED_BRUSH))
        self._categories(plot, [r["name"] for r in rows])
        # a Pareto chart: the axis runs to the total, so the cumulative line ends at its top; each
        # point is labelled with its cumulative share
        total = max(sum(counts), 1)
        plot.setYRange(0, total * 1.18, padding=0)
        cumulative = [r["cumulative_share"] * total for r in rows]
        plot.plot(list(range(len(rows))), cumulative, pen=pg.mkPen("k", width=2), symbol="o", symbolSize=7)
        for x, row in enumerate(rows):
            label = pg.TextItem(f"{row['cumulative_share']:.0%}", color="k", anchor=(0.5, 1.2))
            label.setPos(x, row["cumulative_share"] * total)
            plot.addItem(label)

    def _draw_step_times(self, steps: list[Stats]) -> None:
        import pyqtgraph as pg  # noqa: PLC0415

        plot = self.plots["step_times"]
        plot.clear()
        xs = list(range(len(steps)))
        p50 = [s["p50_s"] for s in steps]
        p95 = [s["p95_s"] for s in steps]
        plot.addItem(pg.BarGraphItem(x=[x - 0.2 for x in xs], height=p50, width=0.4, brush=_P50_BRUSH))
        plot.addItem(pg.BarGraphItem(x=[x + 0.2 for x in xs], height=p95, width=0.4, brush=_P95_BRUSH))
        self._categories(plot, [s["step"] for s in steps])
        plot.setYRange(0, max([*p95, 0.001]) * 1.15, padding=0)

    def _draw_stations(self, stations: list[Stats]) -> None:
        import pyqtgraph as pg  # noqa: PLC0415

        plot = self.plots["stations"]
        plot.clear()
        yields = [100 * (s["first_pass_yield"] or 0) for s in stations]
        plot.addItem(
            pg.BarGraphItem(x=list(range(len(stations))), height=yields, width=0.6, brush=_DONE_BRUSH)
        )
        self._categories(plot, [f"{s['station']} ({s['attempted']})" for s in stations])
        plot.setYRange(0, 112, padding=0)

    def bar_heights(self, name: str) -> list[list[float]]:
        """The heights of every bar series in plot ``name`` (what the chart shows, for checks)."""
        import pyqtgraph as pg  # noqa: PLC0415

        items = self.plots[name].getPlotItem().items
        return [
            [float(h) for h in item.opts["height"]] for item in items if isinstance(item, pg.BarGraphItem)
        ]

    # -- export --------------------------------------------------------------------------
    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export charts"), "certline-statistics.png", self.tr("PNG images (*.png)")
        )
        if path:
            self.export_png(Path(path))

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export statistics"), "certline-statistics.csv", self.tr("CSV files (*.csv)")
        )
        if path:
            self.export_csv(Path(path))

    def export_png(self, path: Path) -> None:
        """The charts as shown, written by a worker; the result shows in the status line."""
        path = path if path.suffix.lower() == ".png" else path.with_name(path.name + ".png")
        image = self.charts.grab().toImage()
        run_in_background(lambda: write_png(image, path), self._exported, self._export_failed, owner=self)

    def export_csv(self, path: Path) -> None:
        """The ``certline stats --format csv`` text of the numbers shown, written by a worker."""
        if self.stats is None:
            return
        text = to_csv(self.stats)
        run_in_background(lambda: write_text(text, path), self._exported, self._export_failed, owner=self)

    def _exported(self, path: Path) -> None:
        self.status.setText(self.tr("Saved %1.").replace("%1", str(path)))
        self.last_export = path

    def _export_failed(self, exc: BaseException) -> None:
        self.status.setText(self.tr("Cannot write the file: %1").replace("%1", str(exc)))
