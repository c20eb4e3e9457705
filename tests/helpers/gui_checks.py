"""Checks on what is on screen, for the tests that start the station through ``certline-gui``'s entry.

* :func:`visible_texts` collects every string a person could read in the open windows: labels,
  buttons, window titles, line edits as displayed (a password field shows dots), combo boxes,
  group box titles, status bar messages and every cell (and tooltip) of every table or list.
* :func:`covered` tells whether any other visible widget of a dialog overlaps a given one.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QApplication,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QTabWidget,
    QTextEdit,
    QWidget,
)


def _model_texts(view: QAbstractItemView) -> list[str]:
    model = view.model()
    if model is None:
        return []
    texts: list[str] = []

    def walk(parent: QModelIndex) -> None:
        for row in range(model.rowCount(parent)):
            for column in range(model.columnCount(parent)):
                index = model.index(row, column, parent)
                for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                    value = index.data(role)
                    if value is not None:
                        texts.append(str(value))
                if column == 0 and model.rowCount(index) > 0:
                    walk(index)

    walk(QModelIndex())
    for orientation in (Qt.Orientation.Horizontal, Qt.Orientation.Vertical):
        count = model.columnCount() if orientation == Qt.Orientation.Horizontal else model.rowCount()
        for section in range(min(count, 200)):
            value = model.headerData(section, orientation, Qt.ItemDataRole.DisplayRole)
            if value is not None:
                texts.append(str(value))
    return texts


def widget_texts(widget: QWidget) -> list[str]:
    texts = [widget.windowTitle(), widget.toolTip()]
    if isinstance(widget, QLabel | QAbstractButton):
        texts.append(widget.text())
    if isinstance(widget, QLineEdit):
        texts += [widget.displayText(), widget.placeholderText()]
    if isinstance(widget, QComboBox):
        texts += [widget.currentText()] + [widget.itemText(i) for i in range(widget.count())]
    if isinstance(widget, QGroupBox):
        texts.append(widget.title())
    if isinstance(widget, QTextEdit | QPlainTextEdit):
        texts.append(widget.toPlainText())
    if isinstance(widget, QTabWidget):
        texts += [widget.tabText(i) for i in range(widget.count())]
    if isinstance(widget, QAbstractItemView):
        texts += _model_texts(widget)
    if isinstance(widget, QMainWindow):
        texts.append(widget.statusBar().currentMessage())
    return [t for t in texts if t]


def visible_texts() -> list[str]:
    """Every readable string of every visible top-level window and its visible children."""
    texts: list[str] = []
    for top in QApplication.topLevelWidgets():
        if not top.isVisible():
            continue
        texts += widget_texts(top)
        for child in top.findChildren(QWidget):
            if child.isVisible():
                texts += widget_texts(child)
    return texts


def assert_not_on_screen(secret: str) -> int:
    """Fail when ``secret`` (or a long part of it) is readable anywhere; returns how many texts were read."""
    texts = visible_texts()
    probe = secret[: max(8, len(secret) // 2)]
    leaks = [t for t in texts if probe in t]
    assert not leaks, f"the passcode is on screen in: {leaks!r}"
    return len(texts)


def covered(dialog: QWidget, target: QWidget) -> list[QWidget]:
    """Visible widgets of ``dialog`` (not ``target``'s ancestors or descendants) lying over ``target``."""
    area = QRect(target.mapTo(dialog, target.rect().topLeft()), target.size())
    hits = []
    for child in dialog.findChildren(QWidget):
        if (
            not child.isVisible()
            or child is target
            or child.isAncestorOf(target)
            or target.isAncestorOf(child)
        ):
            continue
        if isinstance(child.parentWidget(), QAbstractScrollArea) and not isinstance(
            child, QAbstractScrollArea
        ):
            continue  # a scroll area's own viewport and bars are inside it
        rect = QRect(child.mapTo(dialog, child.rect().topLeft()), child.size())
        if rect.intersects(area):
            hits.append(child)
    return hits
