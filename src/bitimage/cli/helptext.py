"""Help screens that show what to type, not Python type names (`<bool>`, `<list[Path]>`).

Typer prints each parameter's annotation as its type column. Every `bitimage` command is built
with `TidyCommand` instead, whose parameters show an option's metavar (default: its name in
capitals) and nothing for flags and arguments (an argument's column already names it).
"""

from __future__ import annotations

from typing import Any

import typer

# Typer 0.29 builds its commands on its own copy of click (typer._click), not on `click`.
from typer._click.core import Context, Parameter
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Context) -> str | None:
        """No type column: the name column shows the metavar."""
        return None


class _Option(TyperOption):
    def display_type_rich(self, ctx: Context) -> str | None:
        """The value's metavar (its name in capitals by default); nothing for a flag."""
        if self.is_flag or self.count:
            return None
        return self.metavar or (self.name or "value").upper()


def _tidy_params(params: list[Parameter]) -> None:
    for param in params:
        # Our own subclasses, for the parameters Typer has just built for this command alone.
        if isinstance(param, TyperArgument):
            param.__class__ = _Argument
        elif isinstance(param, TyperOption):
            param.__class__ = _Option


class _Tidy:
    """What the tidy command and group add to Typer's: their parameters' help by metavar."""

    params: list[Parameter]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_params(self.params)

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        """--help, as tidy as the rest."""
        # A mixin: the Typer class after it in the MRO defines this, out of mypy's sight.
        option: TyperOption | None = super().get_help_option(ctx)  # type: ignore[misc]
        _tidy_params([option] if option is not None else [])
        return option


class TidyCommand(_Tidy, TyperCommand):
    """A Typer command whose help names values by metavar rather than by Python type."""


class TidyGroup(_Tidy, TyperGroup):
    """A Typer group (its own options: --version, --help) with the same help."""


def tidy(app: typer.Typer) -> None:
    """Build `app`, its sub-apps and every command of theirs with the tidy classes.

    Only Typer's defaults (unset, or its own classes) are replaced: a class chosen on purpose
    stays.
    """
    if not app.info.cls or app.info.cls is TyperGroup:
        app.info.cls = TidyGroup
    for command in app.registered_commands:
        if not command.cls or command.cls is TyperCommand:
            command.cls = TidyCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            tidy(group.typer_instance)
