"""``classxpm class-sim serve``: run the Class API simulator (heavy imports wait until it starts)."""

from __future__ import annotations

import click

from classxpm.class_sim.config import DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, ClassSimConfig
from classxpm.cli.xpm_sim import _overrides


@click.group(name="class-sim")
def class_sim() -> None:
    """A local Class API (OAuth, fund and member endpoints, its limits) seeded with the demo data."""


@class_sim.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8766, show_default=True, type=int)
@click.option("--funds", default=200, show_default=True, type=int, help="Demo funds its business holds.")
@click.option("--seed", type=int, help="The demo data's seed (as `classxpm demo-data --seed`).")
@click.option(
    "--client-secret", envvar="CLASS_SIM_CLIENT_SECRET", help="The client's secret [documented demo]."
)
@click.option("--set", "settings", multiple=True, metavar="KEY=JSON", help="Any ClassSimConfig field.")
def serve(
    *,
    host: str,
    port: int,
    funds: int,
    seed: int | None,
    client_secret: str | None,
    settings: tuple[str, ...],
) -> None:
    """Serve the simulator until interrupted."""
    try:
        config = ClassSimConfig().patched(_overrides({"client_secret": client_secret}, settings))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    import uvicorn

    from classxpm.class_sim.app import create_app

    click.echo(f"Class API simulator on http://{host}:{port}  (API under /api/1.0, admin under /_sim/)")
    click.echo(f"  client id:     {config.client_id}")
    secret = "(documented demo)" if config.client_secret == DEFAULT_CLIENT_SECRET else "(as given)"
    password = "documented demo password" if config.password == DEFAULT_PASSWORD else "as given"
    click.echo(f"  client secret: {secret}")
    click.echo(f"  user:          {config.username} ({password})")
    click.echo(f"  business:      {config.business_code} with {funds} demo funds")
    uvicorn.run(create_app(config, funds, seed), host=host, port=port, log_level="warning", lifespan="off")
