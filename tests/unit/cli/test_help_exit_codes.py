"""Every command's --help names its exit codes (walks every sub-command of ``borderx``)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from borderx.cli import build_parser, main

EXIT = re.compile(r"Exit( status)?: 0")


def walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from walk(child)


PARSERS = {p.prog: p for p in walk(build_parser())}


def test_the_walk_finds_every_command() -> None:
    names = set(PARSERS)
    for expected in ("borderx status", "borderx dsse verify", "borderx admin export", "borderx keys id",
                     "borderx config init", "borderx store copy", "borderx publish designation"):  # fmt: skip
        assert expected in names, sorted(names)
    assert len(names) > 25


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_help_names_exit_codes(prog: str) -> None:
    parser = PARSERS[prog]
    text = " ".join(parser.format_help().split())
    assert EXIT.search(text), f"{prog} --help names no exit codes"
    if any("--target" in a.option_strings for a in parser._actions):
        # it talks to a gateway: a refusal or an unreachable gateway is its own code
        assert "3 " in text.split("Exit", 1)[1], text


def test_help_as_the_user_sees_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["lookup", "--help"])
    assert info.value.code == 0
    assert "3 the gateway refused the call or could not be reached" in " ".join(
        capsys.readouterr().out.split()
    )
