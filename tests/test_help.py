"""Every command's --help: each option says what it does and what it defaults to, and one
concept has one name (older names still accepted, and hidden)."""

from __future__ import annotations

import click
from click.testing import CliRunner

from omnimigrate.cli import with_commands

cli = with_commands()


def commands(group: click.Group = cli, path: tuple[str, ...] = ()):
    yield path, group
    for name, sub in group.commands.items():
        if isinstance(sub, click.Group):
            yield from commands(sub, (*path, name))
        else:
            yield (*path, name), sub


def test_every_option_of_every_command_has_help_and_says_its_default():
    runner = CliRunner()
    missing = []
    for path, command in commands():
        shown = runner.invoke(cli, [*path, "--help"])
        assert shown.exit_code == 0, (path, shown.output)
        for option in command.params:
            if not isinstance(option, click.Option) or option.name == "help":
                continue
            where = f"{' '.join(path) or 'omnimigrate'} {option.opts[0]}"
            if not option.help:
                missing.append(f"{where}: no help text")
            elif option.opts[0] not in shown.output:
                missing.append(f"{where}: not in --help")
            unsaid = option.default is None and not (option.is_flag or option.multiple)
            if unsaid and not option.required and "default" not in option.help.lower():
                missing.append(f"{where}: its default comes from elsewhere and is not named")
    assert missing == []


def test_one_name_per_concept_with_the_old_names_hidden_but_accepted():
    runner = CliRunner()
    for path in (("backup",), ("plan",), ("restore",), ("verify",), ("snapshots", "list")):
        help_text = runner.invoke(cli, [*path, "--help"]).output
        assert "--instance " in help_text, path
        assert "--instance-name" not in help_text and "--source-instance" not in help_text
    parsed = cli.commands["backup"].make_context(
        "backup", ["--source", "https://acme.omniapp.co", "--instance-name", "prod"]
    )
    assert parsed.params["instance_name"] == "prod"
    parsed = cli.commands["verify"].make_context(
        "verify", ["--against", "https://dr.omniapp.co", "--source-instance", "prod"]
    )
    assert parsed.params["source_instance"] == "prod"
