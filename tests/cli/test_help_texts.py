"""Every ``certline`` subcommand's ``--help`` explains every option, shows its default, and is plain text.

Walks the real parser tree (``certline.app.cli.main.build_parser``) so a subcommand or option added later is
checked without touching this file, and renders each page through ``main([..., "--help"])`` -- the
code path of the installed ``certline`` script.
"""

from __future__ import annotations

import argparse
import re

import pytest

from certline.app.cli.help_format import iter_parsers
from certline.app.cli.main import build_parser, main

# reStructuredText that leaked from docstrings: ``literal``, "Examples::", :class:`x`
RST_MARKUP = re.compile(r"``|::\s*$|:(?:class|func|meth|mod|attr|data):`", re.MULTILINE)

PARSERS = list(iter_parsers(build_parser()))


def _ids(item: tuple[list[str], argparse.ArgumentParser]) -> str:
    return " ".join(item[0]) or "certline"


def _has_subcommands(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def _documented_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [a for a in parser._actions if not isinstance(a, skip)]


def _render_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_the_walk_reaches_every_command() -> None:
    names = {" ".join(path) for path, _ in PARSERS}
    # a few from each level, so an empty walk cannot pass the tests below
    assert {"demo", "expiry", "profile add", "est cacerts", "est serverkeygen", "batch resume"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("item", PARSERS, ids=_ids)
def test_every_option_and_argument_has_help(item: tuple[list[str], argparse.ArgumentParser]) -> None:
    path, parser = item
    missing = [
        "/".join(a.option_strings) or a.dest
        for a in _documented_actions(parser)
        if not (a.help and a.help.strip()) or a.help is argparse.SUPPRESS
    ]
    assert not missing, f"certline {' '.join(path)}: no help for {missing}"


@pytest.mark.parametrize("item", [p for p in PARSERS if p[0] and not _has_subcommands(p[1])], ids=_ids)
def test_every_command_has_a_description(item: tuple[list[str], argparse.ArgumentParser]) -> None:
    path, parser = item
    assert parser.description and len(parser.description) > 20, f"certline {' '.join(path)}"


@pytest.mark.parametrize("item", PARSERS, ids=_ids)
def test_every_default_is_shown(item: tuple[list[str], argparse.ArgumentParser]) -> None:
    path, parser = item
    formatter = parser._get_formatter()
    for action in _documented_actions(parser):
        default = action.default
        no_default = default is None or isinstance(default, bool) or default in ([], "")
        if no_default or default is argparse.SUPPRESS or not action.option_strings:
            continue
        if isinstance(action, argparse._CountAction):
            continue  # -v counts from 0
        text = formatter._expand_help(action)
        assert "default" in text.lower(), f"certline {' '.join(path)} {action.option_strings}: {text!r}"
        if "(default: " in text:
            assert str(default) in text, text


@pytest.mark.parametrize("item", PARSERS, ids=_ids)
def test_help_is_plain_text(
    item: tuple[list[str], argparse.ArgumentParser], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _parser = item
    text = _render_help(path, capsys)
    assert text.startswith("usage: certline")
    leaked = RST_MARKUP.findall(text)
    assert not leaked, f"certline {' '.join(path)} --help shows markup {leaked}:\n{text}"
    assert "(default: None)" not in text and "(default: False)" not in text


def test_flags_do_not_claim_a_default(capsys: pytest.CaptureFixture[str]) -> None:
    text = _render_help(["profile", "add"], capsys)
    flat = " ".join(text.split())
    assert "(default: 4)" in flat and "(default: passcode-only)" in flat
    assert "--require-pop require proof-of-possession (tls-unique) --" in flat  # no "(default: False)"


@pytest.mark.parametrize("op", ["cacerts", "csrattrs"])
def test_est_operations_without_a_csr_have_no_csr_format(op: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--csr-format" not in _render_help(["est", op], capsys)


@pytest.mark.parametrize("op", ["enroll", "reenroll", "serverkeygen"])
def test_est_operations_with_a_csr_take_csr_format(op: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["est", op, "x.csr", "--url", "https://h", "--csr-format", "pem-text"])
    assert args.csr_format == "pem-text"
    assert "--csr-format" in _render_help(["est", op], capsys)


def test_sim_help_has_no_markup_and_keeps_its_fault_table(capsys: pytest.CaptureFixture[str]) -> None:
    text = _render_help(["sim"], capsys)
    assert "``" not in text
    assert "fault spec: [devN:]KIND[@POINT][=VALUE]\n  kinds:" in text
