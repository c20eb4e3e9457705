"""The profile editor: validation as you type, the passcode into the keyring only, test connection."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

from app.est.errors import EstAuthError
from app.est.results import CsrAttributes
from app.profile import AuthStyle, Profile
from app.profile_store import ProfileStore
from tests.batch.fakes import FakeCA
from ui.profile_editor import ProfileEditor
from ui.worker import pending_tasks

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


def save_button(editor: ProfileEditor):
    return editor.buttons.button(QDialogButtonBox.StandardButton.Save)


def fill_minimal(qtbot, editor: ProfileEditor, url: str = "https://est.example.com/.well-known/est") -> None:
    editor.form.editor("name").setText("line-2")
    editor.form.editor("enroll_url").setText(url)


def test_plain_http_url_is_refused_while_typing(qtbot, make_editor):
    editor = make_editor()
    fill_minimal(qtbot, editor, url="http://est.example.com/.well-known/est")
    problem = editor.form.fields["enroll_url"].problem
    assert shows_problem(editor, "enroll_url") and "https://" in problem.text()
    assert not save_button(editor).isEnabled()
    editor.form.editor("enroll_url").setText("https://est.example.com/.well-known/est")
    assert not shows_problem(editor, "enroll_url")
    assert save_button(editor).isEnabled()


def test_name_username_and_subject_are_checked(qtbot, make_editor):
    editor = make_editor()
    fill_minimal(qtbot, editor)
    editor.form.editor("name").setText("bad/name")
    assert shows_problem(editor, "name")
    editor.form.editor("name").setText("line-2")
    editor.form.auth_style.setCurrentIndex(editor.form.auth_style.findData(AuthStyle.USER_PASSWORD))
    assert shows_problem(editor, "username")
    assert not editor.form.tabIcon(1).isNull()  # the Authentication tab is marked
    editor.form.editor("username").setText("station7")
    editor.form.editor("subject.C").setText("Germany")
    assert editor.form.fields["subject.C"].problem.text()
    editor.form.editor("subject.C").setText("DE")
    editor.form.editor("subject.CN").setText("{serial}-{model}")
    assert "{serial}" in editor.form.fields["subject.CN"].problem.text()
    editor.form.editor("subject.CN").setText("{serial}")
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
    editor.form.editor("label").setText("cps/IOT_1234")
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
    editor.form.editor("name").setText("line-new")
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        save_button(editor).click()
    assert memory_keyring.entries[("certline", "line-new/passcode")] == SECRET
