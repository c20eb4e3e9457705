"""The profile editor shows port filters with human labels and keeps the non-USB port setting."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from certline.app.config.profile import Profile
from certline.ui.profiles.form import ProfileForm


def _caption(form: ProfileForm, key: str) -> str:
    editor = form.editor(key)
    labels = [label for label in form.findChildren(QLabel) if label.buddy() is editor]
    assert len(labels) == 1
    return labels[0].text()


def test_filters_have_human_labels_not_field_names(qtbot) -> None:
    form = ProfileForm()
    qtbot.addWidget(form)
    assert _caption(form, "port_filters.vid_pid") == "USB VID:PID filter:"
    captions = [_caption(form, f"port_filters.{k}") for k in ("description", "manufacturer", "serial_number")]
    assert not any("_" in c for c in captions)


def test_include_non_usb_ports_round_trips(qtbot) -> None:
    form = ProfileForm()
    qtbot.addWidget(form)
    profile = Profile(
        name="p", enroll_url="https://est.example.com/.well-known/est", include_non_usb_ports=True
    )
    form.load(profile, [])
    assert form.profile().include_non_usb_ports is True
    form.editor("include_non_usb_ports").setChecked(False)  # type: ignore[attr-defined]
    assert form.profile().include_non_usb_ports is False
