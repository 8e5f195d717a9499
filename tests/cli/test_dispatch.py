"""The CLI package: every command is dispatched by its parser's ``func``; errors end in one
line and exit code 2, never a traceback."""

from __future__ import annotations

import argparse

import pytest

from cliptagger import cli
from tests.helpers import photo, truncated_jpeg


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_has_a_handler():
    commands = subcommands(cli.build_parser())
    assert set(commands) == {"tag", "learn", "search", "models", "demo", "undo", "cache", "explain",
                             "export-keywords"}
    for name, parser in commands.items():
        assert callable(parser.get_default("func")), f"{name} has no handler"
        assert parser.get_default("func").__module__ == f"cliptagger.cli.{name.replace('-', '_')}"


def test_a_search_that_cannot_be_answered_is_one_line_and_exit_2(tmp_path, capsys):
    """A real SearchError: the only example photo cannot be read, so it has no embedding."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a.jpg")
    broken = truncated_jpeg(tmp_path / "broken.jpg")
    code = cli.main(["search", "", str(folder), "--like", str(broken), "--model", "demo", "--device", "cpu",
                     "--quiet"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_SETUP
    assert "Traceback" not in err and "broken.jpg has no embedding yet" in err
    assert [line for line in err.splitlines() if "no embedding" in line][0].startswith("cliptagger: ")


def test_an_error_raised_in_any_command_is_caught_once(monkeypatch, capsys):
    from cliptagger.core.errors import SessionError

    def failing(_args):
        raise SessionError("no model is loaded yet")

    args = cli.build_parser().parse_args(["cache"])
    monkeypatch.setattr(cli.app, "build_parser", lambda: _Fixed(args, failing))
    assert cli.main(["cache"]) == cli.EXIT_SETUP
    assert capsys.readouterr().err.strip() == "cliptagger: no model is loaded yet"


def test_a_file_system_error_is_a_message_too(monkeypatch, capsys, tmp_path):
    def failing(_args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked"))

    args = cli.build_parser().parse_args(["cache"])
    monkeypatch.setattr(cli.app, "build_parser", lambda: _Fixed(args, failing))
    assert cli.main(["cache"]) == cli.EXIT_SETUP
    err = capsys.readouterr().err
    assert "Traceback" not in err and "locked: Permission denied" in err


class _Fixed:
    """A parser that returns these arguments with this handler."""

    def __init__(self, args: argparse.Namespace, func) -> None:
        self.args, self.func = args, func

    def parse_args(self, _argv=None) -> argparse.Namespace:
        self.args.func = self.func
        return self.args


@pytest.mark.parametrize("argv", [["tag", "--help"], ["search", "--help"], ["learn", "--help"]])
def test_help_works_for_every_command(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 0 and "usage: cliptagger" in capsys.readouterr().out
