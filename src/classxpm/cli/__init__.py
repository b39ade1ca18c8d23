"""The `classxpm` console script.

Subcommands are loaded lazily from the modules named in ``COMMANDS`` so that ``classxpm --help`` and
light commands do not pay for heavy imports (Airflow, Great Expectations) they never use.
"""

from __future__ import annotations

import importlib

import click

COMMANDS: dict[str, str] = {
    "auth": "classxpm.cli.auth:auth",
    "class-auth": "classxpm.cli.class_auth:class_auth",
    "class-sim": "classxpm.cli.class_sim:class_sim",
    "db": "classxpm.cli.db:db",
    "demo-data": "classxpm.cli.demo_data:demo_data",
    "lease": "classxpm.cli.lease:lease",
    "link": "classxpm.cli.link:link",
    "report": "classxpm.cli.report:report",
    "watch": "classxpm.cli.watch:watch",
    "xpm-sim": "classxpm.cli.xpm_sim:xpm_sim",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when they are invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every subcommand name, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the named subcommand, or None when there is no such command."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup)
@click.version_option(package_name="classxpm")
def main() -> None:
    """Keep Xero Practice Manager in step with Class Super."""
