"""``classxpm xpm-sim serve``: run the XPM API simulator (heavy imports wait until it starts)."""

from __future__ import annotations

import json
from typing import Any

import click

from classxpm.xpm_sim.config import DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, SimConfig


def _overrides(options: dict[str, Any], settings: tuple[str, ...]) -> dict[str, Any]:
    """SimConfig fields from the flags given, then from each ``--set KEY=JSON``."""
    fields = {key: value for key, value in options.items() if value is not None and value != ()}
    if "redirect_uris" in fields:
        fields["redirect_uris"] = list(fields["redirect_uris"])
    for item in settings:
        key, separator, raw = item.partition("=")
        if not separator:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        try:
            fields[key] = json.loads(raw)
        except json.JSONDecodeError:
            fields[key] = raw
    return fields


@click.group(name="xpm-sim")
def xpm_sim() -> None:
    """A local Xero Practice Manager 3.1 with Xero OAuth, limits and faults."""


@xpm_sim.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option(
    "--state", "state_file", type=click.Path(dir_okay=False), help="SQLite file that survives restarts."
)
@click.option(
    "--auto-approve", is_flag=True, default=None, help="Authorize redirects back without a consent page."
)
@click.option("--client-id", help="The registered app's client id [classxpm-demo].")
@click.option("--client-secret", envvar="XPM_SIM_CLIENT_SECRET", help="Its secret [classxpm-demo-secret].")
@click.option(
    "--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URIs (default: any loopback)."
)
@click.option("--minute-limit", type=int, help="Calls per tenant per minute [60].")
@click.option("--day-limit", type=int, help="Calls per tenant per day [5000].")
@click.option("--concurrent-limit", type=int, help="Concurrent calls per tenant [5].")
@click.option("--app-minute-limit", type=int, help="Calls per app per minute [10000].")
@click.option("--time-scale", type=float, help="Simulated seconds per real second [1].")
@click.option(
    "--unknown-uuid-status", type=click.Choice(["200", "404"]), help="HTTP status of not-found [200]."
)
@click.option("--tfn-check-digit/--no-tfn-check-digit", default=None, help="Apply the TFN check digit [on].")
@click.option("--abn-check/--no-abn-check", default=None, help="Apply the ABN check digit [off].")
@click.option("--code-lifetime-seconds", type=int, help="Authorization code lifetime [300].")
@click.option("--set", "settings", multiple=True, metavar="KEY=JSON", help="Any other SimConfig field.")
def serve(host: str, port: int, state_file: str | None, settings: tuple[str, ...], **options: Any) -> None:
    """Serve the simulator until interrupted."""
    if options["unknown_uuid_status"] is not None:
        options["unknown_uuid_status"] = int(options["unknown_uuid_status"])
    try:
        config = SimConfig().patched(_overrides(options, settings))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    import uvicorn

    from classxpm.xpm_sim.app import create_app
    from classxpm.xpm_sim.persistence import SqliteState
    from classxpm.xpm_sim.store import Store

    store = Store(SqliteState(state_file)) if state_file else Store()
    _announce(host, port, config, state_file)
    uvicorn.run(create_app(config, store), host=host, port=port, log_level="warning", lifespan="off")


def _announce(host: str, port: int, config: SimConfig, state_file: str | None) -> None:
    secret = config.client_secret if config.client_secret == DEFAULT_CLIENT_SECRET else "(as given)"
    click.echo(f"XPM simulator on http://{host}:{port}  (admin API under /_sim/)")
    click.echo(f"  client id:     {config.client_id}")
    click.echo(f"  client secret: {secret}")
    click.echo(f"  tenant:        Demo Practice {DEFAULT_TENANT_ID}")
    click.echo(f"  auto-approve:  {'on' if config.auto_approve else 'off'}")
    click.echo(f"  state:         {state_file or 'in memory'}")
