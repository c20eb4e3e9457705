"""``certline`` command line: one module per subcommand, each with ``register(subparsers)``.

Each subcommand module sets ``func`` on its parser; ``func(args) -> int`` is the exit status.
Nothing here imports Qt, so the CLI runs on a machine without a display or Qt libraries.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from certline.app import __version__
from certline.app.cli.help_format import DefaultsHelpFormatter, apply_to_tree
from certline.app.cli.role_args import EXIT_NOT_PERMITTED, RoleRefused
from certline.app.config.paths import InsideStationConfig
from certline.app.security.redaction import scrub

#: exit status after Ctrl+C (128 + SIGINT), what shells and ``batch run`` use
EXIT_INTERRUPTED = 130

#: exit status when the reader of our output went away (128 + SIGPIPE, as a shell reports it)
EXIT_BROKEN_PIPE = 141

#: subcommand modules under certline.app.cli, in --help order
COMMANDS: tuple[str, ...] = (
    "demo",
    "batch_cmd",
    "report_cmd",
    "label_cmd",
    "audit_cmd",
    "journal_cmd",
    "profile_cmd",
    "reenroll_cmd",
    "expiry_cmd",
    "stats_cmd",
    "mes_cmd",
    "est_cmd",
    "est_server_cmd",
    "sim_cmd",
    "selftest_cmd",
    "station_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certline",
        description="Certline provisioning station: enroll device certificates over USB serial with EST.",
        epilog="Every command has --help, e.g. 'certline batch run --help'.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="store_true",
        help="print the version (with -v: also Python's and the native libraries')",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (repeatable)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"certline.app.cli.{name}").register(subparsers)
    apply_to_tree(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from certline.app.host.versions import verbose_version_text

        print(verbose_version_text() if args.verbose else f"certline {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from certline.app.host.log_setup import configure_cli_logging, install_cli_excepthook

    configure_cli_logging(args.verbose)
    install_cli_excepthook()
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        return _reader_went_away()
    except RoleRefused as exc:
        print(f"certline {args.command}: not permitted: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_NOT_PERMITTED
    except InsideStationConfig as exc:  # an export aimed at the station's configuration folder
        print(f"certline {args.command}: {exc}; nothing written", file=sys.stderr)
        return 1
    except EOFError:
        # end of input at a prompt (Ctrl+D, a closed terminal or pipe): the operator gave no
        # answer, so nothing was done -- not an internal error
        print("\ncertline: aborted: no input", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl+C is how a technician stops a command: the `with` blocks have cleaned up on the
        # way here, so there is nothing to report -- no traceback, just the conventional status.
        print(file=sys.stderr)
        return EXIT_INTERRUPTED


def _reader_went_away() -> int:
    """``certline ... | head -1``: the reader closed the pipe, which is not an error to report.

    As the Python docs recommend (signal module, "Note on SIGPIPE"): point stdout at devnull so
    the interpreter's final flush of what is still buffered cannot raise again, and exit quietly.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
