"""The station window: what a technician looks at and works with all day at the line.

The window only composes and wires: the station bar and counters on top, the
device table with the selected unit's details, the log below. Batch actions
go to :class:`~certline.ui.station.batch_controller.BatchController`, background checks to
:class:`~certline.ui.station.monitor.StationMonitor`, the lock to
:class:`~certline.ui.station.lock.LockController`; engine events arrive through the
:class:`~certline.ui.station.event_bridge.EventBridge` on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from certline.app.batch.events import BatchSnapshot, DeviceSnapshot
from certline.app.batch.states import TERMINAL
from certline.app.config.profile import Profile, ScanIn
from certline.app.host.log_setup import attach_handler
from certline.app.labels.hook import LabelPrinting
from certline.app.mes.delivery import MesDelivery
from certline.app.security.roles import Action, RoleGate
from certline.app.security.station_lock import StationLock
from certline.app.station import StationSession
from certline.app.station.hands_free import HandsFree, PortProvider, ProviderPortSource
from certline.app.station.mes_handoff import start_mes_handoff
from certline.app.station.simulated_units import PortChoice
from certline.ui.batch_dialogs import statistics as statistics_view
from certline.ui.plumbing.label_printer import QtPrinterSink
from certline.ui.plumbing.resources import app_icon
from certline.ui.plumbing.settings import GEOMETRY, SPLITTER, WINDOW_STATE, UiSettings
from certline.ui.plumbing.worker import run_in_background
from certline.ui.renewal import menu as reenroll_menu
from certline.ui.station import commands as window_commands
from certline.ui.station import resume_offer, simulated_units
from certline.ui.station.actions import build_menus, create_actions
from certline.ui.station.batch_controller import BatchController, Phase
from certline.ui.station.counters import BatchCounters
from certline.ui.station.device_details import DeviceDetailsPanel
from certline.ui.station.device_model import ROWS_PER_PASS, DeviceTableModel
from certline.ui.station.device_view import DeviceView
from certline.ui.station.event_bridge import BridgeLogHandler, EventBridge
from certline.ui.station.lock import LockController
from certline.ui.station.log_panel import LogPanel
from certline.ui.station.monitor import SecretStatus, StationMonitor, keyring_secret_status
from certline.ui.station.passcode_dialog import PasscodeAsker
from certline.ui.station.scan_field import ScanFocusKeeper, ScanPanel
from certline.ui.station.station_bar import StationBar

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The station window for one :class:`StationSession`.

    Attributes:
        session, controller, monitor, lock, bridge: the non-visual parts (tests drive them).
        station_bar, counters, model, table, details, log_panel: the visible parts.
        station_actions: every action (see :mod:`certline.ui.station.actions`).

    Signals:
        profile_saved(Profile): the profile editor saved a profile (the launcher may reopen it).
        summary_shown(QDialog): a batch summary dialog was opened.
        closed(): the window was closed (the launcher ends the application then).
        simulated_units_ready(int): that many simulated units are plugged in (Help menu).
    """

    profile_saved = Signal(object)
    summary_shown = Signal(object)
    closed = Signal()
    simulated_units_ready = Signal(int)

    def __init__(
        self,
        session: StationSession,
        port_provider: PortProvider,
        *,
        settings: UiSettings | None = None,
        hands_free: HandsFree | None = None,
        secret_check: Callable[[Profile], SecretStatus] | None = keyring_secret_status,
        station_lock: StationLock | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        session.workers_yield_to_window = True  # batches' port workers give way to this thread
        self.settings = settings or UiSettings()
        self.setWindowTitle(self.tr("Certline station — %1").replace("%1", session.profile.name))
        self.setWindowIcon(app_icon())
        self.bridge = EventBridge(session.bus, self)
        self._log_handler = BridgeLogHandler(self.bridge)
        attach_handler(self._log_handler)
        # the USB ports, or simulated units once the trainer chose them (Help > Use simulated units…)
        self.port_choice = PortChoice(port_provider)
        port_provider = self.port_choice.ports
        hands_free = hands_free or HandsFree(ProviderPortSource(port_provider))
        self.controller = BatchController(session, port_provider, hands_free, self)
        self.monitor = StationMonitor(session, self, secret_check=secret_check)
        if station_lock is not None or session.roles.station_lock is None:
            lock = station_lock or StationLock.for_config_dir(session.paths.config)
            session.roles = RoleGate(lock, session.roles.operator)
        self.lock = LockController(session, self)
        self.labels = LabelPrinting(session.journal, session.bus, system_sink=QtPrinterSink)
        self.mes: MesDelivery | None = None
        self._closing = False
        self._awaiting_summary = False
        self._failed_units = 0  # of the current batch's last snapshot: Retry failed needs one
        self._passcode_wait: str | None = None
        self.passcode_asker = PasscodeAsker(self)
        self._shown_locked = False
        self._build_widgets()
        self.station_actions = create_actions(self)
        self.language_menu, self.language_group = build_menus(self, self.station_actions)
        window_commands.connect(self)
        self.field_actions = reenroll_menu.install(self, port_provider)
        self.resume_action = resume_offer.install(self)
        self.simulated_action = simulated_units.install(self)
        self.statistics_action = statistics_view.install(self)
        self._connect()
        self._restore()
        self._update_actions()
        self.monitor.start()
        self.lock.refresh()
        self._start_mes()

    # -- construction -------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.station_bar = StationBar(self.session.profile.name, self)
        self.counters = BatchCounters(self)
        # the bridge already hands the rows on once per frame (FRAME_MS, the table's redraw rate):
        # the table applies them in that same pass, not in a second timer callback of its own,
        # a screenful of rows at a time (see DeviceTableModel.rows_per_pass)
        self.model = DeviceTableModel(self, batch_interval_ms=0, rows_per_pass=ROWS_PER_PASS)
        self.table = DeviceView(self.model, self)
        # a long hands-free batch keeps only the newest finished rows in the table (live_rows):
        # say so, and where the others are, instead of letting rows vanish without a word
        self.dropped_note = QLabel(self)
        self.dropped_note.setWordWrap(True)
        self.dropped_note.setVisible(False)
        self.model.finished_dropped.connect(self._show_dropped_note)
        self.details = DeviceDetailsPanel(self.session.journal, self)
        self.log_panel = LogPanel(self)
        self.scan_panel = ScanPanel(self)
        self.scan_panel.setVisible(self.session.profile.scan_in == ScanIn.REQUIRED)
        self.scan_focus = ScanFocusKeeper(self.scan_panel.field, self)
        top = QSplitter(Qt.Orientation.Horizontal, self)
        top.addWidget(self.table)
        top.addWidget(self.details)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 1)
        top.setSizes([960, 400])  # the table's last column, the step or error, gets the room
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.log_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([600, 200])
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.addWidget(self.station_bar)
        layout.addWidget(self.counters)
        layout.addWidget(self.scan_panel)
        layout.addWidget(self.dropped_note)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.batch_label = QLabel(self)
        self.simulated_label = QLabel(self)
        self.simulated_label.hide()
        self.statusBar().addPermanentWidget(self.simulated_label)
        self.statusBar().addPermanentWidget(self.batch_label)

    def _connect(self) -> None:
        self.bridge.devices_changed.connect(self._devices_changed)
        self.bridge.batch_changed.connect(self._batch_changed)
        self.bridge.log_events.connect(self.log_panel.add_events)
        self.bridge.mes_changed.connect(self.station_bar.set_mes)
        self.controller.changed.connect(self._update_actions)
        self.controller.batch_started.connect(self._batch_started)
        self.controller.message.connect(self.show_message)
        self.controller.failed.connect(self.show_error)
        self.controller.scan_result.connect(self.scan_panel.show_outcome)
        self.scan_panel.field.scanned.connect(self.controller.scan)
        self.scan_panel.field.entered_by_hand.connect(self.controller.scan)
        self.scan_panel.field.discard_requested.connect(self.controller.discard_scans)
        self.monitor.server_status.connect(self.station_bar.set_server)
        self.monitor.trust_anchor.connect(self.station_bar.set_trust_anchor)
        self.monitor.secret_status.connect(self.station_bar.set_secret)
        self.lock.locked_changed.connect(self._locked_changed)
        self.lock.operator_changed.connect(self._operator_changed)
        self.lock.failed.connect(self.show_error)
        self.lock.message.connect(self.show_message)
        self.table.device_selected.connect(self.details.show_device)
        self.station_bar.fields_completed.connect(self._fields_completed)
        self.bridge.log_events.connect(lambda _events: self._show_journal())
        self._show_journal()

    def _start_mes(self) -> None:
        """The MES hand-off reads the settings and the keyring: on a worker thread."""
        session = self.session
        run_in_background(
            lambda: start_mes_handoff(session.journal, session.bus),
            self._mes_started,
            lambda exc: self.station_bar.set_mes(None, str(exc)),
            owner=self,
        )

    def _mes_started(self, delivery: object) -> None:
        assert isinstance(delivery, MesDelivery)
        if self._closing:
            delivery.stop(timeout=0)
            return
        self.mes = delivery
        if not delivery.channels:
            self.station_bar.set_mes(None)
        else:  # then the backlog as it is now, published by the delivery thread after this
            self.station_bar.set_mes_checking()
            delivery.ask_status()

    def _show_journal(self) -> None:
        """The journal line of the station bar (attributes only: no database call here)."""
        journal = self.session.journal
        self.station_bar.set_journal(
            journal.station, journal.shared, journal.describe(), bool(getattr(journal, "reachable", True))
        )

    def _restore(self) -> None:
        self.resize(1280, 820)
        self.restoreGeometry(self.settings.get(GEOMETRY))
        self.restoreState(self.settings.get(WINDOW_STATE))
        self.splitter.restoreState(self.settings.get(SPLITTER))

    def _show_dropped_note(self, dropped: int) -> None:
        self.dropped_note.setVisible(dropped > 0)
        if dropped:
            self.dropped_note.setText(
                self.tr(
                    "The table lists every unit still in progress or failed and the newest %1 finished"
                    " ones; %n older finished unit(s) of this batch are in Batch › History.",
                    "",
                    dropped,
                ).replace("%1", str(self.model.keep_finished))
            )

    # -- engine events ------------------------------------------------------------------
    def _devices_changed(self, snaps: list[DeviceSnapshot]) -> None:
        """One frame's device updates (the newest per device) for the shown batch."""
        batch_id = self.controller.batch_id
        ours = [snap for snap in snaps if snap.batch_id == batch_id]
        if not ours:
            return
        self.model.update_devices(ours)
        if any(snap.device_id == self.details.device_id for snap in ours):
            self.details.refresh()

    def _batch_changed(self, snap: BatchSnapshot) -> None:
        if snap.batch_id != self.controller.batch_id:
            return
        self.counters.update_batch(snap)
        if snap.failed != self._failed_units:
            self._failed_units = snap.failed
            self._update_actions()
        self.scan_panel.set_counts(snap.awaiting_label, snap.scans_queued)
        self.monitor.note_server(snap.server_reachable)
        if snap.passcode_wait != self._passcode_wait:
            self._passcode_wait = snap.passcode_wait
            self.passcode_asker.on_wait(snap.passcode_wait)
        self.controller.on_batch_snapshot(snap)
        if snap.finished and self._awaiting_summary and not self.controller.hands_free_on:
            self._awaiting_summary = False
            self.model.flush()  # the summary lists the rows; do not wait for the redraw timer
            QTimer.singleShot(0, lambda: window_commands.show_summary(self, snap))
        self._update_batch_label()

    def passcode_wait_reason(self) -> str:
        """Why the batch waits for a passcode, or what the New passcode dialog is for."""
        return self._passcode_wait or self.tr(
            "Store the next passcode from the CA. Enrollments use it from their next request."
        )

    def _batch_started(self, batch_id: int) -> None:
        self._failed_units = 0
        if self.model.snapshots() and self.model.snapshots()[0].batch_id != batch_id:
            self.model.set_devices([])
            self.counters.clear()
        self._awaiting_summary = True
        self.show_message(self.tr("Batch %1 running").replace("%1", str(batch_id)))

    def _fields_completed(self) -> None:
        if self.station_actions.start.isEnabled():
            self.table.setFocus()

    # -- state of the actions -----------------------------------------------------------
    def _update_actions(self) -> None:
        a, c = self.station_actions, self.controller
        may = self.session.roles.allows  # the role check of app/ (memory only: no file, no PIN)
        running = c.phase == Phase.RUNNING
        has_work = c.engine is not None and c.phase in (Phase.RUNNING, Phase.IDLE)
        a.start.setEnabled(c.phase == Phase.IDLE and may(Action.START_BATCH))
        a.pause.setEnabled(running)
        a.pause.setChecked(c.paused)
        a.pause.setText(self.tr("Resume") if c.paused else self.tr("&Pause"))
        a.stop.setEnabled(c.phase in (Phase.RUNNING, Phase.STARTING))
        a.retry.setEnabled(has_work and self._failed_units > 0 and may(Action.RETRY_UNITS))
        a.retry_pending.setEnabled(has_work and may(Action.RETRY_UNITS))
        a.skip.setEnabled(running and may(Action.SKIP_UNITS))
        a.reprovision.setEnabled(has_work and may(Action.REPROVISION))
        a.export.setEnabled(c.batch_id is not None)
        a.hands_free.setEnabled(may(Action.START_BATCH))
        a.hands_free.setChecked(c.hands_free_on or (c.phase == Phase.STARTING and a.hands_free.isChecked()))
        a.profile.setEnabled(may(Action.EDIT_PROFILES) and c.phase == Phase.IDLE)
        a.shared_journal.setEnabled(may(Action.EDIT_SETTINGS))
        scanning = self.session.profile.scan_in == ScanIn.REQUIRED
        self.scan_focus.set_active(scanning and c.phase in (Phase.RUNNING, Phase.STARTING))
        a.new_passcode.setEnabled(may(Action.CHANGE_SECRETS))  # a passcode is the engineer's
        self.station_bar.set_fields_enabled(c.phase == Phase.IDLE)
        self.table.set_sign_in_needed(self.lock.roles_on and self.session.roles.operator is None)
        self._update_batch_label()

    def _update_batch_label(self) -> None:
        c = self.controller
        if c.batch_id is None:
            text = self.tr("No batch yet")
        elif c.phase == Phase.STOPPING:
            text = self.tr("Batch %1: stopping…").replace("%1", str(c.batch_id))
        elif c.phase == Phase.IDLE:
            text = self.tr("Batch %1: finished").replace("%1", str(c.batch_id))
        elif c.paused:
            text = self.tr("Batch %1: paused").replace("%1", str(c.batch_id))
        else:
            text = self.tr("Batch %1: running").replace("%1", str(c.batch_id))
        if c.hands_free_on:
            text += " · " + self.tr("hands-free")
        if self.lock.locked:
            text += " · " + self.tr("locked")
        if self.lock.roles_on:
            operator = self.session.roles.operator
            if operator is None:
                text += " · " + self.tr("sign in to start (Ctrl+I)")
            else:
                role = self.tr("engineer") if operator.role.value == "engineer" else self.tr("technician")
                text += " · " + self.tr("%1 (%2)").replace("%1", operator.name).replace("%2", role)
        self.batch_label.setText(text)

    def _operator_changed(self) -> None:
        operator = self.session.roles.operator
        self.station_bar.set_signed_in(operator.name if self.lock.signed_in and operator else None)
        self.station_actions.sign_in.setVisible(self.lock.roles_on)
        self.station_actions.sign_in.setText(
            self.tr("Sign &out %1").replace("%1", operator.name)
            if self.lock.signed_in and operator is not None
            else self.tr("Sign &in…")
        )
        self._update_actions()

    def _locked_changed(self, locked: bool) -> None:
        self.station_actions.lock.setText(self.tr("Un&lock station") if locked else self.tr("&Lock station"))
        self.station_actions.lock.setIcon(window_commands.lock_icon(locked))
        if locked != self._shown_locked:
            self.show_message(self.tr("Station locked") if locked else self.tr("Station unlocked"))
        self._shown_locked = locked
        self._update_actions()

    # -- feedback -------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    def show_error(self, text: str) -> None:
        """A non-blocking warning box (the batch keeps running behind it)."""
        box = QMessageBox(
            QMessageBox.Icon.Warning, self.tr("Certline"), text, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.show_message(text)

    def confirm_skip(self, snaps: list[DeviceSnapshot]) -> bool:
        """Ask before taking units out of the batch (Del is easy to hit by accident)."""
        count = len(snaps)  # a plain name: lupdate 6.11 only parses a name as the %n count
        question = self.tr("Leave %n unit(s) out of this batch?", "", count)
        names = ", ".join(s.serial_number or s.port for s in snaps)
        answer = QMessageBox.question(
            self,
            self.tr("Skip units"),
            f"{question}\n\n{names}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def unfinished_devices(self) -> list[DeviceSnapshot]:
        return [s for s in self.model.snapshots() if s.state not in TERMINAL]

    # -- closing --------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.controller.phase in (Phase.RUNNING, Phase.STARTING) and not window_commands.confirm_quit(
            self
        ):
            event.ignore()
            return
        self.settings.set(GEOMETRY, self.saveGeometry())
        self.settings.set(WINDOW_STATE, self.saveState())
        self.settings.set(SPLITTER, self.splitter.saveState())
        self.settings.sync()
        if self.lock.signed_in:
            self.lock.sign_out()  # a sign-in lasts as long as this window: the next user starts locked
        self.monitor.stop()
        self.controller.shutdown()
        self.bridge.close()
        self.labels.close(timeout=0)  # queued labels finish on their own thread; never wait here
        self._closing = True
        if self.mes is not None:
            self.mes.stop(timeout=0)  # undelivered records stay queued in the journal
        logging.getLogger().removeHandler(self._log_handler)
        if self.port_choice.simulated:
            run_in_background(self.port_choice.close)  # unplugging joins the units' threads
        super().closeEvent(event)
        self.closed.emit()
