"""The root command lists every command and loads each one, with its subcommands, on demand."""

from __future__ import annotations

import importlib
import pkgutil

import click
import pytest

from web import commands
from web.cli import LAZY_COMMANDS, cli, load_command


def _defined() -> dict[str, str]:
    """Every top-level command a module of web/commands defines, and that module."""
    found = {}
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            found[command.name] = module.__name__
    return found


def test_every_defined_command_is_listed_and_loaded_from_its_module() -> None:
    defined = _defined()
    assert set(defined) == set(LAZY_COMMANDS)
    for name, module in defined.items():
        assert LAZY_COMMANDS[name][0] == module


@pytest.mark.parametrize(
    ("name", "subcommands"),
    [
        ("integration", {"create", "update", "show", "launch", "map", "schedule"}),
        ("saas-users", {"list", "import"}),
        ("user", {"add", "list", "passwd", "role"}),
        ("token", {"create", "list", "revoke"}),
    ],
)
def test_groups_carry_the_subcommands_other_modules_add(name: str, subcommands: set[str]) -> None:
    group = load_command(name)
    assert isinstance(group, click.Group)
    assert subcommands <= set(group.commands)


def test_help_lists_every_command() -> None:
    with click.Context(cli) as ctx:
        assert set(LAZY_COMMANDS) | {"init"} == set(cli.list_commands(ctx))
