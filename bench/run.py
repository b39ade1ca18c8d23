"""``make bench``: run the scenarios and write ``RESULTS.md`` and ``results.json``.

python -m bench.run [--only calls,walltime,throughput,quota,pages,readpath,classapi,parallel,instant]
                    [--calls 1000,10000] [--wall-funds 1000] [--time-scale 16] [--throughput 10000,100000]
                    [--quota-funds 20000] [--quota-day-limit 5000] [--page-rows 10000]
                    [--readpath 1000,10000,100000] [--class-api-funds 1000] [--class-api-scale 20]
                    [--parallel-funds 1000] [--budget-calls 1000]
                    [--instant-changes 20] [--instant-bulk 500] [--instant-funds 10]
                    [--shard-businesses 300] [--shard-funds 50] [--out bench]

``--only cluster-shards`` runs the shards' businesses on ``classxpm.cluster`` (CeleryExecutor, two workers).

Scenarios not run keep their results from the previous ``results.json`` in ``--out``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shlex
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bench.world import ROOT

SCENARIOS = (
    "calls",
    "walltime",
    "throughput",
    "quota",
    "pages",
    "readpath",
    "classapi",
    "parallel",
    "instant",
    "shards",
    "cluster-shards",
)
DEFAULT_SCENARIOS = SCENARIOS[:-4]
"""``parallel`` (8 upsert processes at production rate limits, minutes), ``instant`` (starts Airflow for
real, half an hour), ``shards`` (many businesses through ``airflow dags test``) and ``cluster-shards`` (the
same on a CeleryExecutor cluster) run by name only."""


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.replace(" ", "").split(",") if part]


def machine() -> dict[str, Any]:
    """Cores, RAM and CPU model of this machine."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), ""
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    kib = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(kib / 1024 / 1024, 1),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "postgres": _postgres_version(),
    }


def _postgres_version() -> str:
    import sqlalchemy as sa

    from bench.world import PG_ADMIN_URL

    engine = sa.create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def command(**options: Any) -> str:
    """The command line that reproduces one row."""
    parts = [".venv/bin/python", "-m", "bench.run"]
    for name, value in options.items():
        parts += [f"--{name.replace('_', '-')}", str(value)]
    return shlex.join(parts)


def run_all(options: dict[str, Any], reports: Path) -> dict[str, Any]:
    """Run the chosen scenarios; returns everything measured, with the command of each row."""
    from bench.calls import run_scenarios
    from bench.class_api import run_class_api
    from bench.cluster_shards import run_cluster_shards
    from bench.instant import run_instant
    from bench.pages import run_pages
    from bench.parallel import run_overhead, run_parallel
    from bench.quota import run_quota
    from bench.readpath import run_readpath
    from bench.shards import run_shards
    from bench.throughput import run_throughput
    from bench.walltime import run_walltime

    seed, only = options["seed"], options["only"]
    results: dict[str, Any] = {}
    if "calls" in only:
        results["calls"] = [
            {
                "command": command(only="calls", calls=n, seed=seed),
                "rows": [r.to_dict() for r in run_scenarios(n, seed, reports)],
            }
            for n in options["calls"]
        ]
    if "walltime" in only:
        funds, scale = options["wall_funds"], options["time_scale"]
        row = run_walltime(funds, seed, scale, reports).to_dict()
        results["walltime"] = {
            **row,
            "command": command(only="walltime", wall_funds=funds, time_scale=scale, seed=seed),
        }
    if "throughput" in only:
        results["throughput"] = [
            {
                **run_throughput(n, seed, reports, profile=options["profile"]).to_dict(),
                "command": command(only="throughput", throughput=n, seed=seed),
            }
            for n in options["throughput"]
        ]
    if "quota" in only:
        funds, limit = options["quota_funds"], options["quota_day_limit"]
        row = run_quota(funds, seed, limit, reports).to_dict()
        results["quota"] = {
            **row,
            "command": command(only="quota", quota_funds=funds, quota_day_limit=limit, seed=seed),
        }
    if "pages" in only:
        rows = options["page_rows"]
        results["pages"] = {
            **run_pages(rows, reports).to_dict(),
            "command": command(only="pages", page_rows=rows),
        }
    if "readpath" in only:
        measured_at = datetime.now(UTC).isoformat(timespec="seconds")
        results["readpath"] = [
            {
                "command": command(only="readpath", readpath=n, seed=seed),
                "measured_at": measured_at,
                "rows": [r.to_dict() for r in run_readpath(n, seed)],
            }
            for n in options["readpath"]
        ]
    if "parallel" in only:
        funds, scale, calls = options["parallel_funds"], options["time_scale"], options["budget_calls"]
        results["parallel"] = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            **run_parallel(funds, seed, scale, reports).to_dict(),
            "overhead": [asdict(row) for row in run_overhead(calls)],
            "command": command(
                only="parallel", parallel_funds=funds, time_scale=scale, budget_calls=calls, seed=seed
            ),
        }
    if "classapi" in only:
        funds, scale = options["class_api_funds"], options["class_api_scale"]
        results["classapi"] = {
            "command": command(only="classapi", class_api_funds=funds, class_api_scale=scale, seed=seed),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": [row.to_dict() for row in run_class_api(funds, seed, scale)],
        }
    if "instant" in only:
        changes, bulk, funds = options["instant_changes"], options["instant_bulk"], options["instant_funds"]
        results["instant"] = {
            **run_instant(changes, bulk, funds, seed),
            "command": command(
                only="instant", instant_changes=changes, instant_bulk=bulk, instant_funds=funds, seed=seed
            ),
        }
    if "shards" in only:
        size, funds, scale = options["shard_businesses"], options["shard_funds"], options["time_scale"]
        results["shards"] = {
            **run_shards(size, funds, seed, scale).to_dict(),
            "command": command(
                only="shards", shard_businesses=size, shard_funds=funds, time_scale=scale, seed=seed
            ),
        }
    if "cluster-shards" in only:
        size, funds, scale = options["shard_businesses"], options["shard_funds"], options["time_scale"]
        results["cluster-shards"] = {
            **run_cluster_shards(size, funds, seed, scale).to_dict(),
            "command": command(
                only="cluster-shards", shard_businesses=size, shard_funds=funds, time_scale=scale, seed=seed
            ),
        }
    return results


def cluster_sizes(earlier: list[dict[str, Any]] | dict[str, Any] | None, new: dict[str, Any]) -> list[dict]:
    """The cluster rows kept by size: ``new`` replaces only the earlier result of its size.

    3,000 businesses of 5 funds and of 50 are different questions (the cost a business, the cost a fund),
    so one does not drop the other.
    """
    kept = [earlier] if isinstance(earlier, dict) else list(earlier or [])
    size = (new["businesses"], new["funds"])
    rows = [r for r in kept if (r["businesses"], r["funds"]) != size] + [new]
    return sorted(rows, key=lambda r: (r["businesses"], r["funds"]))


def _previous(out: Path) -> dict[str, Any]:
    """The previous run's document, so a scenario run alone does not drop the others' results."""
    previous = out / "results.json"
    return json.loads(previous.read_text(encoding="utf-8")) if previous.exists() else {"results": {}}


@click.command()
@click.option(
    "--only",
    default=",".join(DEFAULT_SCENARIOS),
    show_default=True,
    help=f"Scenarios to run, comma-separated, of {', '.join(SCENARIOS)}.",
)
@click.option("--calls", "calls", default="1000,10000", show_default=True, help="Fund counts for scenario 1.")
@click.option("--wall-funds", default=1000, show_default=True, help="Funds in the wall-time run.")
@click.option(
    "--time-scale", default=16.0, show_default=True, help="Simulated seconds per real second there."
)
@click.option("--throughput", default="10000,100000", show_default=True, help="Fund counts for scenario 3.")
@click.option("--quota-funds", default=20000, show_default=True, help="Funds in the daily-quota backfill.")
@click.option("--quota-day-limit", default=5000, show_default=True, help="XPM's daily limit there.")
@click.option(
    "--profile/--no-profile", default=True, show_default=True, help="Profile the slowest local stage."
)
@click.option("--page-rows", default=10000, show_default=True, help="Funds and run rows behind the pages.")
@click.option(
    "--readpath", default="1000,10000,100000", show_default=True, help="Client counts for scenario 6."
)
@click.option("--parallel-funds", default=1000, show_default=True, help="Funds in the parallel-upsert run.")
@click.option(
    "--budget-calls", default=1000, show_default=True, help="Calls timed for the budget's overhead."
)
@click.option("--class-api-funds", default=1000, show_default=True, help="Funds read through the Class API.")
@click.option(
    "--class-api-scale",
    default=20.0,
    show_default=True,
    help="Class simulator time scale (scenario classapi).",
)
@click.option(
    "--instant-changes", default=20, show_default=True, help="Single-fund edits timed in 'instant'."
)
@click.option("--instant-bulk", default=500, show_default=True, help="Funds in the bulk import of 'instant'.")
@click.option("--instant-funds", default=10, show_default=True, help="Funds in Class when 'instant' starts.")
@click.option("--shard-businesses", default=300, show_default=True, help="Class businesses in 'shards'.")
@click.option("--shard-funds", default=50, show_default=True, help="Funds of each business in 'shards'.")
@click.option("--seed", default=20260630, show_default=True, help="Demo data seed.")
@click.option(
    "--out", default=str(ROOT / "bench"), show_default=True, help="Folder for RESULTS.md and results.json."
)
def main(**options: Any) -> None:
    """Run the benchmarks and write RESULTS.md."""
    from bench.results import render

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options["only"] = [name for name in options["only"].split(",") if name]
    unknown = set(options["only"]) - set(SCENARIOS)
    if unknown:
        raise click.BadParameter(f"unknown scenarios: {', '.join(sorted(unknown))}", param_hint="--only")
    options["calls"], options["throughput"] = _sizes(options["calls"]), _sizes(options["throughput"])
    options["readpath"] = _sizes(options["readpath"])
    began = time.monotonic()
    out = Path(options["out"])
    previous = _previous(out)
    with tempfile.TemporaryDirectory(prefix="classxpm-bench-") as reports:
        measured = run_all(options, Path(reports))
    if "cluster-shards" in measured:
        measured["cluster-shards"] = cluster_sizes(
            previous["results"].get("cluster-shards"), measured["cluster-shards"]
        )
    results = previous["results"] | measured
    document = {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - began),
        "results": results,
    }
    if set(results) - set(options["only"]):  # the header's date and duration stay those of the full run
        document |= {"date": previous["date"], "seconds": previous["seconds"]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "RESULTS.md").write_text(render(document), encoding="utf-8")
    click.echo(f"wrote {out / 'RESULTS.md'} in {round(time.monotonic() - began)} s")


if __name__ == "__main__":
    main()
