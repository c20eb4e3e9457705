"""``certline`` command line: one module per subcommand, each with ``register(subparsers)``.

Each subcommand module sets ``func`` on its parser; ``func(args) -> int`` is the exit status.
Nothing here imports Qt, so the CLI runs on a machine without a display or Qt libraries.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from app import __version__

#: subcommand modules under app.cli, in --help order
COMMANDS: tuple[str, ...] = (
    "demo",
    "batch_cmd",
    "report_cmd",
    "audit_cmd",
    "journal_cmd",
    "profile_cmd",
    "reenroll_cmd",
    "expiry_cmd",
    "est_cmd",
    "est_server_cmd",
    "sim_cmd",
    "selftest_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certline",
        description="Certline provisioning station: enroll device certificates over USB serial with EST.",
    )
    parser.add_argument("--version", action="version", version=f"certline {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (repeatable)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"app.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from app.logsetup import configure_cli_logging, install_cli_excepthook

    configure_cli_logging(args.verbose)
    install_cli_excepthook()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
