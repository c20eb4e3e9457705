"""Loading translations: Certline's own (``resources/i18n/certline_<lang>.qm``) and Qt's.

Every user-visible string goes through ``tr()``; ``pyside6-lupdate`` collects
them into ``resources/i18n/certline_de.ts`` and ``pyside6-lrelease`` compiles
the ``.qm`` loaded here::

    .venv/bin/pyside6-lupdate $(find ui -name "*.py") -ts resources/i18n/certline_de.ts \\
        -no-obsolete -locations none
    .venv/bin/pyside6-lrelease resources/i18n/certline_de.ts -qm resources/i18n/certline_de.qm

Translate new strings with ``pyside6-linguist``; ``tests/ui/test_i18n.py`` fails
while a string is untranslated or the ``.qm`` is stale. Qt's own
``qtbase_<lang>.qm`` translates the standard buttons (OK, Cancel). The language
is chosen before any window exists; changing it takes effect on the next start.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from certline.ui.plumbing.resources import translation_dir

log = logging.getLogger(__name__)

AVAILABLE = ("en", "de")


def resolve_language(setting: str) -> str:
    """``auto`` follows the system locale; anything we have no translation for is English."""
    language = QLocale.system().name().split("_")[0] if setting in ("", "auto") else setting.split("_")[0]
    return language if language in AVAILABLE else "en"


def install_translators(app: QCoreApplication, setting: str = "auto") -> str:
    """Install the translators for ``setting`` on ``app``; returns the language in use."""
    language = resolve_language(setting)
    if language == "en":
        return language
    translators: list[QTranslator] = []
    own = QTranslator(app)
    if own.load(f"certline_{language}", str(translation_dir())):
        translators.append(own)
    else:
        log.warning("no Certline translation for %s in %s", language, translation_dir())
    qt = QTranslator(app)
    if qt.load(f"qtbase_{language}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
        translators.append(qt)
    for translator in translators:
        app.installTranslator(translator)
    QLocale.setDefault(QLocale(language))
    return language


def remove_translators(app: QCoreApplication) -> None:
    """Back to English (tests)."""
    for translator in app.findChildren(QTranslator):
        app.removeTranslator(translator)
        translator.deleteLater()
