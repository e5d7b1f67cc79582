"""Each command's --help ends with examples, and every example parses as written."""

from __future__ import annotations

import shlex

from grader.cli import EXAMPLES, build_parser


def test_every_command_ends_its_help_with_examples_that_parse() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == set(EXAMPLES)
    for name, command in commands.items():
        assert command.format_help().rstrip().endswith(EXAMPLES[name][-1]), name
        for line in EXAMPLES[name]:
            words = shlex.split(line.split("#")[0].split("&&")[0].split(">")[0])
            assert words[:2] == ["bptt-grader", name], line
            parser.parse_args(words[1:])  # exits (fails the test) on a flag that does not exist


def test_starting_a_command_does_not_import_numpy() -> None:
    """Every command reads its settings and asks whether this is a student kit before it runs;
    neither may cost NumPy's import (the commands that need it import it themselves)."""
    import subprocess
    import sys

    code = ("import sys; from grader.cli import build_parser, settings_from_args; from grader.kit import is_kit; "
            "settings_from_args(build_parser().parse_args(['settings'])); is_kit(); "
            "assert 'numpy' not in sys.modules, 'numpy was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
