"""Write the ``certline(1)`` man page from the CLI's own argparse parser.

    python packaging/make_manpage.py OUT_FILE      # e.g. packaging/out/certline.1

Generated, not written by hand, so it cannot drift from ``certline --help``: every
subcommand (``profile set-passcode``, ...) gets a section with its description, usage and
options. build_linux.sh installs it as /usr/share/man/man1/certline.1.gz.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def roff(text: str) -> str:
    """Escape text for roff: backslashes, leading dots/quotes, hyphens in option names."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def subcommands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``("profile set-passcode", parser)`` for every subcommand, depth first, in --help order."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public way to walk subparsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                yield full, sub
                yield from subcommands(sub, f"{full} ")


def options(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:  # noqa: SLF001
            continue
        if action.option_strings:
            metavar = ""
            if action.nargs != 0:
                metavar = (
                    " " + (action.metavar or action.dest.upper())
                    if not isinstance(action.metavar, tuple)
                    else ""
                )
            label = ", ".join(f"\\fB{roff(o)}\\fR{roff(str(metavar))}" for o in action.option_strings)
        else:
            label = f"\\fI{roff(str(action.metavar or action.dest))}\\fR"
        help_text = action.help or ""
        try:
            help_text = help_text % {"default": action.default, "prog": parser.prog}
        except (KeyError, TypeError, ValueError):
            pass  # a literal "%" in the help: print it as written
        out += [".TP", label, roff(help_text)]
    return out


def usage(parser: argparse.ArgumentParser) -> str:
    text = parser.format_usage().strip()
    return text.removeprefix("usage: ")


def manpage(parser: argparse.ArgumentParser, version: str, date: str) -> str:
    lines = [
        f'.TH CERTLINE 1 "{date}" "certline {version}" "User Commands"',
        ".SH NAME",
        "certline \\- provisioning station: enroll device certificates over USB serial with EST",
        ".SH SYNOPSIS",
        ".nf",
        roff(usage(parser)),
        ".fi",
        ".SH DESCRIPTION",
        roff(parser.description or ""),
        ".PP",
        "The station window is \\fBcertline\\-gui\\fR. Run \\fBcertline selftest\\fR after installing.",
        ".SH OPTIONS",
        *options(parser),
        ".SH COMMANDS",
    ]
    for name, sub in subcommands(parser):
        lines += [f".SS {roff(name)}", ".nf", roff(usage(sub)), ".fi"]
        if sub.description:
            lines += [".PP", roff(sub.description)]
        opts = options(sub)
        if opts:
            lines += [".PP", "Options:", ".RS", *opts, ".RE"]
    lines += [
        ".SH FILES",
        ".TP",
        "\\fI/opt/certline\\fR",
        "the program (a self\\-contained bundle) and its third\\-party licences in \\fIlicenses/\\fR",
        ".TP",
        "\\fI~/.local/share/certline\\fR, \\fI~/.config/certline\\fR",
        "profiles, the journal, settings and logs (kept when the package is removed)",
        ".SH SEE ALSO",
        "\\fBcertline\\-gui\\fR, /usr/share/doc/certline/",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: make_manpage.py OUT_FILE", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from certline.app import __version__
    from certline.app.cli.main import build_parser

    # SOURCE_DATE_EPOCH keeps the page reproducible (same date on every rebuild of a release)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or None
    when = (
        datetime.datetime.fromtimestamp(epoch, datetime.UTC) if epoch else datetime.datetime.now(datetime.UTC)
    )
    Path(args[0]).write_text(
        manpage(build_parser(), __version__, when.strftime("%Y-%m-%d")), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
