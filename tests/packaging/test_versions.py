"""``certline --version --verbose`` and the rule that CLI commands never load Qt."""

from __future__ import annotations

import json
import sqlite3
import ssl
import subprocess
import sys
import zlib

import pytest

from certline.app.cli.main import main

pytestmark = pytest.mark.timeout(120)


def test_plain_version_is_one_line(capsys):
    assert main(["--version"]) == 0
    from certline.app import __version__

    assert capsys.readouterr().out.splitlines() == [f"certline {__version__}"]


@pytest.mark.parametrize("argv", [["--version", "--verbose"], ["-v", "--version"]])
def test_verbose_version_names_the_native_libraries(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("certline ")
    for expected in (
        ssl.OPENSSL_VERSION,
        sqlite3.sqlite_version,
        zlib.ZLIB_RUNTIME_VERSION,
        "expat_",
        "PySide6 ",
    ):
        assert expected in out, expected


# Each runs in a fresh interpreter; afterwards no Qt module may be loaded. (A frozen bundle is
# checked the same way with LD_DEBUG in packaging/test_linux_package.sh.)
CLI_RUNS = [
    ["--version"],
    ["--version", "--verbose"],
    ["profile", "list"],
    ["selftest", "--no-gui", "--no-keyring"],
]


@pytest.mark.parametrize("argv", CLI_RUNS, ids=" ".join)
def test_cli_commands_do_not_load_qt(argv, tmp_path):
    code = (
        "import json, sys\n"
        "from certline.app.cli.main import main\n"
        f"rc = main({argv!r})\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')"
        " or m.split('.')[:2] == ['certline', 'ui'])\n"
        "print('QT-MODULES', json.dumps(qt))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=100,
        env={"CERTLINE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("QT-MODULES ")), None)
    assert line is not None, proc.stdout + proc.stderr
    assert json.loads(line.split(" ", 1)[1]) == []
