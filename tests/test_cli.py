"""The command line's small manners: no traceback on a closed pipe, flags that say what they
expect, help for every option."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lps_robot.cli import build_parser
from lps_robot.cli import main as lps


def test_a_closed_pipe_ends_quietly():
    out = subprocess.run(
        f"{sys.executable} -m lps_robot.cli completion bash | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("#") and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "--resume", "maybe"], "invalid true/false value: 'maybe'"),
        (["train", "--agent.actor_hidden", "64,x"], "invalid comma-separated int list value"),
    ],
)
def test_a_malformed_flag_names_the_form_it_expects(argv, expected, capsys):
    with pytest.raises(SystemExit) as e:
        lps(argv)
    assert e.value.code == 2 and expected in capsys.readouterr().err


def test_bool_flags_take_yes_and_no():
    args = build_parser().parse_args(["train", "--resume", "yes", "--progress", "no"])
    assert args.resume is True and args.progress is False


def test_every_option_of_every_command_has_help():
    from tests.cli_walk import _subcommands

    todo, missing = [build_parser()], []
    while todo:
        p = todo.pop()
        todo.extend(child for _, child in _subcommands(p))
        for action in p._actions:
            if action.option_strings and not action.help:
                missing.append(f"{p.prog} {action.option_strings[-1]}")
    assert missing == []
