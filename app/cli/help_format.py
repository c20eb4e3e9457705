"""How ``certline … --help`` is laid out: every option that has a default says what it is.

argparse's own ``ArgumentDefaultsHelpFormatter`` also appends ``(default: None)`` and
``(default: False)`` to options that have no real default (flags, optional values), which
reads as noise to a technician. These formatters append ``(default: X)`` only when there is
a value to show and the help text does not already mention it.

:func:`apply_to_tree` gives every parser and subparser of the ``certline`` command the
formatter, so a new subcommand gets it without remembering to ask for it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator


def _has_default_worth_showing(action: argparse.Action) -> bool:
    default = action.default
    if default is None or default is argparse.SUPPRESS:
        return False
    if isinstance(default, bool) or default == [] or default == "":
        return False  # store_true flags and append-options that start empty
    if isinstance(action, argparse._CountAction) and default == 0:
        return False  # -v: "repeatable" says it all
    return bool(action.option_strings) or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)


def _with_default(action: argparse.Action, text: str) -> str:
    if "%(default)" in text or "default" in text.lower() or not _has_default_worth_showing(action):
        return text
    return f"{text} (default: %(default)s)"


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to options with a real default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return _with_default(action, action.help or "")


class RawDescriptionDefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The same, keeping the description and epilog line breaks (examples, fault specs)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return _with_default(action, action.help or "")


def iter_parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    """``(command path, parser)`` for ``parser`` and every subcommand below it, depth first."""
    stack: list[tuple[list[str], argparse.ArgumentParser]] = [([], parser)]
    while stack:
        path, current = stack.pop(0)
        yield path, current
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    stack.append(([*path, name], sub))


def apply_to_tree(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and all its subparsers the defaults-showing formatter."""
    for _path, current in iter_parsers(parser):
        kind = current.formatter_class
        raw = isinstance(kind, type) and issubclass(kind, argparse.RawDescriptionHelpFormatter)
        current.formatter_class = RawDescriptionDefaultsHelpFormatter if raw else DefaultsHelpFormatter
