"""The profile editor: validation as you type, the passcode into the keyring only, test connection."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

from certline.app.config.profile import AuthStyle, Profile
from certline.app.config.profile_store import ProfileStore
from certline.app.est.errors import EstAuthError
from certline.app.est.results import CsrAttributes
from certline.ui.plumbing.worker import pending_tasks
from certline.ui.profiles.editor import ProfileEditor
from tests.batch.fakes import FakeCA

SECRET = "s3cret-Passc0de!"


class FakeClient:
    """What the editor's "Test connection" talks to: /cacerts works, /csrattrs is refused."""

    def __init__(self, ca: FakeCA) -> None:
        self.ca = ca
        self.closed = False

    def cacerts(self):
        return [self.ca.cert]

    def csrattrs(self) -> CsrAttributes:
        raise EstAuthError("401 Unauthorized: passcode rejected")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def store(tmp_path) -> ProfileStore:
    return ProfileStore(tmp_path / "profiles")


@pytest.fixture
def make_editor(qtbot, store, memory_keyring):
    editors = []

    def make(profile: Profile | None = None, **kwargs) -> ProfileEditor:
        editor = ProfileEditor(profile, store=store, **kwargs)
        qtbot.addWidget(editor)
        editor.show()
        editors.append(editor)
        qtbot.waitUntil(lambda: pending_tasks() == 0)
        return editor

    yield make
    qtbot.waitUntil(lambda: pending_tasks() == 0)


def shows_problem(editor: ProfileEditor, key: str) -> bool:
    """The field's problem line is shown (on whichever tab it is)."""
    problem = editor.form.fields[key].problem
    return not problem.isHidden() and bool(problem.text())


def tab_marked(editor: ProfileEditor, index: int) -> bool:
    """The tab carries a visible (not transparent) icon."""
    image = editor.form.tabIcon(index).pixmap(16, 16).toImage()
    return any(image.pixelColor(x, y).alpha() for x in range(image.width()) for y in range(image.height()))


def save_button(editor: ProfileEditor):
    return editor.buttons.button(QDialogButtonBox.StandardButton.Save)


def type_into(qtbot, editor: ProfileEditor, key: str, text: str) -> None:
    """Replace a field's text the way a user does (select all, type), so it counts as touched."""
    widget = editor.form.editor(key)
    widget.selectAll()
    if text:
        qtbot.keyClicks(widget, text)
    else:
        qtbot.keyClick(widget, Qt.Key.Key_Delete)


def fill_minimal(qtbot, editor: ProfileEditor, url: str = "https://est.example.com/.well-known/est") -> None:
    type_into(qtbot, editor, "name", "line-2")
    type_into(qtbot, editor, "enroll_url", url)


def test_plain_http_url_is_refused_while_typing(qtbot, make_editor):
    editor = make_editor()
    fill_minimal(qtbot, editor, url="http://est.example.com/.well-known/est")
    problem = editor.form.fields["enroll_url"].problem
    assert shows_problem(editor, "enroll_url") and "https://" in problem.text()
    assert not save_button(editor).isEnabled()
    type_into(qtbot, editor, "enroll_url", "https://est.example.com/.well-known/est")
    assert not shows_problem(editor, "enroll_url")
    assert save_button(editor).isEnabled()


def test_name_username_and_subject_are_checked(qtbot, make_editor):
    editor = make_editor()
    fill_minimal(qtbot, editor)
    type_into(qtbot, editor, "name", "bad/name")
    assert shows_problem(editor, "name")
    type_into(qtbot, editor, "name", "line-2")
    editor.form.auth_style.setCurrentIndex(editor.form.auth_style.findData(AuthStyle.USER_PASSWORD))
    assert not save_button(editor).isEnabled()
    assert not shows_problem(editor, "username")  # not touched yet: no red
    type_into(qtbot, editor, "username", "x")
    type_into(qtbot, editor, "username", "")
    assert shows_problem(editor, "username")
    assert tab_marked(editor, 1) and not tab_marked(editor, 2)  # the Authentication tab is marked
    type_into(qtbot, editor, "username", "station7")
    type_into(qtbot, editor, "subject.C", "Germany")
    assert editor.form.fields["subject.C"].problem.text()
    type_into(qtbot, editor, "subject.C", "DE")
    type_into(qtbot, editor, "subject.CN", "{serial}-{model}")
    assert "{serial}" in editor.form.fields["subject.CN"].problem.text()
    type_into(qtbot, editor, "subject.CN", "{serial}")
    assert save_button(editor).isEnabled()


def test_passcode_is_stored_in_the_keyring_never_in_the_profile_nor_shown_again(
    qtbot, make_editor, store, memory_keyring
):
    editor = make_editor()
    fill_minimal(qtbot, editor)
    editor.form.secret_edit.setText(SECRET)
    with qtbot.waitSignal(editor.saved, timeout=10_000) as saved:
        save_button(editor).click()
    assert saved.args[0].name == "line-2"
    assert memory_keyring.entries[("certline", "line-2/passcode")] == SECRET
    assert SECRET not in store.path_for("line-2").read_text()
    assert editor.form.secret_edit.text() == ""
    reopened = make_editor(store.load("line-2"))
    qtbot.waitUntil(lambda: "Stored in the keyring" in reopened.form.secret_status.text())
    assert reopened.form.secret_edit.text() == ""
    reopened.form.secret_edit.setText("replacement-code")
    with qtbot.waitSignal(reopened.saved, timeout=10_000):
        save_button(reopened).click()
    assert memory_keyring.entries[("certline", "line-2/passcode")] == "replacement-code"


def test_test_connection_reports_what_worked_and_what_did_not(qtbot, make_editor):
    ca = FakeCA()
    clients: list[FakeClient] = []

    def factory(profile, credentials):
        clients.append(FakeClient(ca))
        return clients[-1]

    editor = make_editor(client_factory=factory)
    fill_minimal(qtbot, editor)
    editor.test_button.click()
    qtbot.waitUntil(lambda: editor.results.count() >= 3 and editor.test_button.isEnabled(), timeout=10_000)
    lines = [editor.results.item(i).text() for i in range(editor.results.count())]
    assert lines[0].startswith("/cacerts: OK") and "Fake CA" in lines[0]
    assert lines[1].startswith("/csrattrs: failed") and "passcode rejected" in lines[1]
    assert "not checked" in lines[2]
    assert clients[0].closed


def test_export_and_import_carry_no_secret(qtbot, make_editor, tmp_path, monkeypatch):
    editor = make_editor()
    fill_minimal(qtbot, editor)
    type_into(qtbot, editor, "label", "cps/IOT_1234")
    editor.form.secret_edit.setText(SECRET)
    target = tmp_path / "exported.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    editor.export_button.click()
    qtbot.waitUntil(target.exists, timeout=10_000)
    text = target.read_text()
    assert SECRET not in text and json.loads(text)["label"] == "cps/IOT_1234"
    other = make_editor()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    other.import_button.click()
    qtbot.waitUntil(lambda: other.form.text("label") == "cps/IOT_1234", timeout=10_000)
    assert other.form.text("name") == "line-2"
    assert other.form.secret_edit.text() == ""


def test_renaming_a_profile_keeps_its_passcode(qtbot, make_editor, store, memory_keyring):
    store.save(Profile(name="line-old", enroll_url="https://est.example.com/.well-known/est"))
    memory_keyring.set_password("certline", "line-old/passcode", SECRET)
    editor = make_editor(store.load("line-old"))
    type_into(qtbot, editor, "name", "line-new")
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        save_button(editor).click()
    assert memory_keyring.entries[("certline", "line-new/passcode")] == SECRET


def test_typed_passcode_is_never_on_screen(qtbot, make_editor):
    """Issue 14.1: typing the passcode once put it in the "Keyring unavailable: …" label."""
    editor = make_editor()
    fill_minimal(qtbot, editor)
    qtbot.keyClicks(editor.form.secret_edit, SECRET)
    assert editor.form.secret_edit.text() == SECRET
    shown = editor.form.secret_status.text()
    assert SECRET not in shown and "keyring when you save" in shown
    from PySide6.QtWidgets import QAbstractButton, QLabel

    texts = [w.text() for w in editor.findChildren(QLabel)] + [
        w.text() for w in editor.findChildren(QAbstractButton)
    ]
    assert not [t for t in texts if SECRET[:6] in t]


def test_a_new_profile_shows_no_red_before_anything_is_typed(qtbot, make_editor):
    editor = make_editor()
    assert not any(shows_problem(editor, key) for key in editor.form.fields)
    assert not save_button(editor).isEnabled()
    assert "enrollment URL" in editor.problem.text()  # says why Save is off, in grey
    type_into(qtbot, editor, "enroll_url", "http://x")
    assert shows_problem(editor, "enroll_url") and not shows_problem(editor, "name")


def test_a_pasted_url_is_taken_as_is(qtbot, make_editor):
    """Issue 14.10: the URL field was prefilled with https://, so a paste gave https://https://…"""
    from PySide6.QtGui import QGuiApplication

    url = "https://demo.one.digicert.com/.well-known/est/cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509"
    editor = make_editor()
    field = editor.form.editor("enroll_url")
    assert field.text() == ""
    QGuiApplication.clipboard().setText(url)
    field.setFocus()
    field.paste()
    assert field.text() == url


def test_problem_lines_do_not_move_the_fields_while_typing(qtbot, make_editor):
    editor = make_editor()
    below = editor.form.fields["reenroll_url"]
    before = below.mapTo(editor, below.rect().topLeft())
    type_into(qtbot, editor, "enroll_url", "http://x")
    assert shows_problem(editor, "enroll_url")
    qtbot.wait(10)
    assert below.mapTo(editor, below.rect().topLeft()) == before
    type_into(qtbot, editor, "enroll_url", "https://est.example.com/.well-known/est")
    assert not shows_problem(editor, "enroll_url")
    qtbot.wait(10)
    assert below.mapTo(editor, below.rect().topLeft()) == before


def test_scan_in_is_a_checkbox_and_its_timeout_survives_an_edit(qtbot, make_editor, store, memory_keyring):
    from certline.app.config.profile import ScanIn

    store.save(
        Profile(
            name="scan-line",
            enroll_url="https://est.example.com/.well-known/est",
            scan_in=ScanIn.REQUIRED,
            scan_in_timeout=90.0,
        )
    )
    memory_keyring.set_password("certline", "scan-line/passcode", SECRET)
    editor = make_editor(store.load("scan-line"))
    box = editor.form.editor("scan_in")
    assert box.isChecked()
    type_into(qtbot, editor, "name", "scan-line-2")
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        save_button(editor).click()
    saved = store.load("scan-line-2")
    assert (saved.scan_in, saved.scan_in_timeout) == (ScanIn.REQUIRED, 90.0)
    box.setChecked(False)
    assert editor.form.profile().scan_in == ScanIn.OFF


def test_the_passcode_limits_and_the_rate_are_edited_and_the_passcode_id_kept(qtbot, make_editor, store):
    store.save(
        Profile(
            name="line-q",
            enroll_url="https://est.example.com/.well-known/est",
            passcode_id="dtm-line-1",
            passcode_max_uses=500,
            passcode_expires="2026-12-31",
            max_enrollments_per_minute=30.0,
        )
    )
    editor = make_editor(store.load("line-q"))
    assert editor.form.text("passcode_max_uses") == "500"
    assert editor.form.text("max_enrollments_per_minute") == "30"
    type_into(qtbot, editor, "max_enrollments_per_minute", "fast")
    qtbot.waitUntil(lambda: shows_problem(editor, "max_enrollments_per_minute"))
    assert "must be a number" in editor.form.fields["max_enrollments_per_minute"].problem.text()
    type_into(qtbot, editor, "max_enrollments_per_minute", "12")
    type_into(qtbot, editor, "passcode_max_uses", "400")
    qtbot.waitUntil(lambda: not shows_problem(editor, "max_enrollments_per_minute"))
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        save_button(editor).click()
    saved = store.load("line-q")
    assert (saved.passcode_id, saved.passcode_max_uses, saved.passcode_expires) == (
        "dtm-line-1",
        400,
        "2026-12-31",
    )
    assert saved.max_enrollments_per_minute == 12.0


def test_a_passcode_the_keyring_cannot_take_saves_nothing_and_says_so(qtbot, make_editor, store):
    """Found by a newcomer with no D-Bus session: Save wrote the profile, then failed on the keyring
    and said "Not saved" (advising a command line option the window does not have). The keyring now
    comes first: nothing is written, the message is true and says how to save without it."""
    from keyring.backends import fail

    from certline.app.config.settings import StationSettings
    from certline.app.security.secret_store import SecretStore

    editor = make_editor(secret_store=lambda: SecretStore(backend=fail.Keyring(), settings=StationSettings()))
    fill_minimal(qtbot, editor)
    editor.form.secret_edit.setText(SECRET)
    save_button(editor).click()
    qtbot.waitUntil(lambda: pending_tasks() == 0 and bool(editor.problem.text()), timeout=10_000)
    problem = editor.problem.text()
    assert problem.startswith("Not saved: No usable OS keyring") and "Nothing was saved" in problem
    assert "clear that field" in problem and "--passcode-env" not in problem and SECRET not in problem
    assert store.list() == [] and editor.isVisible() and save_button(editor).isEnabled()

    editor.form.secret_edit.clear()  # as the message says: the profile alone is saved
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        save_button(editor).click()
    assert store.list() == ["line-2"]


def test_the_window_s_exports_refuse_the_station_configuration_folder(tmp_path):
    """The profile editor's Export… and the statistics exports run these on their workers; the
    failure is shown where each shows its errors. Nothing is written into the config folder."""
    from certline.app.config.paths import InsideStationConfig, station_paths
    from certline.app.config.profile_store import export_profile
    from certline.ui.batch_dialogs.statistics import write_text

    config = station_paths().config
    config.mkdir(parents=True, exist_ok=True)
    with pytest.raises(InsideStationConfig, match="configuration folder"):
        export_profile(
            Profile(name="line-2", enroll_url="https://est.example.com/.well-known/est"), config / "x.json"
        )
    with pytest.raises(InsideStationConfig):
        write_text("a,b\n", config / "stats.csv")
    assert list(config.iterdir()) == []
    assert write_text("a,b\n", tmp_path / "stats.csv").read_text() == "a,b\n"
