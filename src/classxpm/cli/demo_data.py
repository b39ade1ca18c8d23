"""`classxpm demo-data`: fill a Class database with deterministic Australian SMSF demo data."""

from __future__ import annotations

import time

import click
from sqlalchemy.engine import make_url

from classxpm.db import DatabaseUrlError
from classxpm.errors import Fatal
from classxpm.source.demo_data import (
    DEFAULT_SEED,
    DatabaseNotEmpty,
    DatabaseUnavailable,
    DemoSummary,
    write_demo_data,
)


class BadDatabase(Fatal, click.ClickException):
    """The database URL cannot be used or reached: exit code 2, like other usage errors."""

    exit_code = 2


@click.command("demo-data")
@click.option(
    "--db", "url", required=True, help="SQLAlchemy URL of the Class database, e.g. sqlite:///class.db."
)
@click.option(
    "--funds", type=click.IntRange(min=1), required=True, help="How many funds to write (for each business)."
)
@click.option(
    "--businesses",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many Class businesses, each with --funds funds (the demo business, demo-business-00002...).",
)
@click.option(
    "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="The same seed, the same data."
)
@click.option("--replace", is_flag=True, help="Empty the Class tables first when they already hold rows.")
def demo_data(url: str, funds: int, businesses: int, seed: int, replace: bool) -> None:
    """Fill a Class database with realistic, deterministic Australian SMSF demo data."""
    started = time.perf_counter()
    try:
        summary = write_demo_data(url, funds, seed, replace=replace, businesses=businesses)
    except (DatabaseUrlError, DatabaseUnavailable) as exc:
        raise BadDatabase(_one_line(exc)) from None
    except DatabaseNotEmpty as exc:
        raise click.ClickException(_one_line(exc)) from None
    click.echo(describe(summary, make_url(url).render_as_string(), seed, time.perf_counter() - started))


def describe(summary: DemoSummary, database: str, seed: int, seconds: float) -> str:
    """Return the one-paragraph report of a demo-data run: counts only, never an identifier."""
    return (
        f"Wrote {summary.funds:,} funds with {summary.members:,} members into {database} "
        f"(seed {seed}) in {seconds:.1f} s: {summary.without_tfn:,} funds without a TFN, "
        f"{summary.invalid_tfn:,} with a TFN that fails its check digit, "
        f"{summary.invalid_abn:,} with a bad ABN, "
        f"{summary.corporate_trustee:,} with a corporate trustee (ACN)."
    )


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
