"""Render the measured results as ``RESULTS.md``: one table per scenario, the machine, the date, commands."""

from __future__ import annotations

from typing import Any

from bench.world import ROOT

LOOP_FIGURES = ("mean_ms", "p50_ms", "p95_ms", "max_ms")
CHANGES = ROOT / "bench" / "CHANGES.md"
"""Hand-written before/after notes for the fixes the benchmarks led to; appended when present."""


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items())


def _header(document: dict[str, Any]) -> list[str]:
    m = document["machine"]
    return [
        "# Benchmarks",
        "",
        f"Measured {document['date']} in {document['seconds']} s on {m['cores']} cores, {m['ram_gb']} "
        "GB RAM, "
        f"{m['cpu']} (Python {m['python']}, PostgreSQL {m['postgres']}). Written by `make bench` "
        "(`bench/run.py`); each table names the command that reproduces it. The machine is shared, so "
        "timings move by some 10-20% between runs; call counts do not move.",
        "",
        "How things are counted:",
        "",
        "- Calls are the XPM simulator's call log (`GET /_sim/calls`), never the client's own count. "
        '"Calls" are XPM API calls (`.../practicemanager/3.1/...`); token refreshes are left out.',
        "- The demo data has about 2.45 members per fund (1-4), about 3% of funds with a TFN that fails its "
        "check digit and 2% with a bad ABN. The validation gate quarantines those: they are not sent, by us "
        'or by the naive push, and "calls per fund" is over the funds actually sent.',
        "- The naive push (`bench/naive.py`) uses the same `XpmApi` client against a simulator of "
        "its own and "
        "re-sends every fund on every run: an add (members inline) the first time, then a client update "
        "and one contact update per member.",
        "",
    ]


def _readpath(blocks: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## 7. The full read: which call gives every client's contacts (calls, bytes, seconds)",
        "",
        "Reference §12: `client.api/paged-list` returns base records of live clients (no contacts), "
        "`client.api/list` every client, archived and deleted too, each with its contacts, in one call; "
        "`client.api/contacts` pages contacts that name no client. Calls and response bytes are the "
        "simulator's call log; seconds the reader's wall clock, the simulator rendering included. Gets past "
        f"{2_000:,} are scaled from the first {2_000:,} (marked *). 5% of the clients are archived.",
        "",
        "The sync reads with `client.api/list` (one call at every size: contacts for matching members, "
        "archived clients seen, WebUrl included); `paged-list` + a `get` per client costs one call per "
        "client, more than XPM's 5,000 a day from about 5,000 clients, and still misses archived clients.",
        "",
    ]
    for block in blocks:
        rows = block["rows"]
        lines += [
            f"### {rows[0]['clients']:,} clients, {rows[0]['contacts']:,} contacts",
            "",
            f"`{block['command']}` (measured {block['measured_at']})",
            "",
            "| Read | Calls | Response MB | Seconds | Contacts per client known | Archived seen |",
            "|---|---:|---:|---:|---|---|",
        ]
        lines += [
            f"| `{r['path']}` | {r['calls']:,}{'*' if r['scaled'] else ''} | {r['bytes'] / 1e6:,.1f} | "
            f"{r['seconds']:,.1f} | {r['contacts_known']} | {'yes' if r['archived_seen'] else 'no'} |"
            for r in rows
        ]
        lines.append("")
    return lines


def _calls(block: dict[str, Any]) -> list[str]:
    funds = block["rows"][0]["funds"]
    lines = [
        f"### {funds:,} funds",
        "",
        f"`{block['command']}`" + (f" (measured {block['measured_at']})" if "measured_at" in block else ""),
        "",
        "| Run | Funds planned | Quarantined | Changed | Our calls (reads + writes) | Naive calls | "
        "Naive ÷ ours "
        "| Outcomes | Target | Met |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in block["rows"]:
        ratio = "∞" if r["ratio"] is None else f"{r['ratio']:,}"
        lines.append(
            f"| {r['scenario']} | {r['considered']:,} | {r['quarantined']:,} | {r['changed']:,} "
            f"| {r['calls']:,} ({r['reads']:,} + {r['writes']:,}) | {r['naive']:,} | {ratio} "
            f"| {_counts(r['counts'])} | {r['target']} | {_yes(r['met'])} |"
        )
    return [*lines, ""]


def _walltime(r: dict[str, Any]) -> list[str]:
    return [
        "## 2. Wall time of a first sync against the rate-limit floor",
        "",
        f"`{r['command']}`",
        "",
        f"The simulator enforces production limits (60 calls a minute, 5 at once, fixed windows) at "
        f"`--time-scale {r['time_scale']:g}`; the client's window follows it (`rate_window_seconds = 60/F`). "
        'Times are in simulated minutes. The floor is the calls XPM counted ÷ 60. "Whole run" is start to '
        'finish, local stages included (they too run F times "slower" in simulated time, so this '
        'overstates them); "API span" is first to last call.',
        "",
        "| Funds | Calls counted | Writes | 429s | Floor (min) | Whole run (min) | API span (min) | "
        "Whole run ÷ floor "
        "| Real seconds | Outcomes | Target | Met |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
        f"| {r['funds']:,} | {r['calls']:,} | {r['writes']:,} | {r['rejected']} | {r['floor_minutes']} "
        f"| {r['run_minutes']} | {r['api_minutes']} | {r['ratio']} | {r['real_seconds']} | "
        f"{_counts(r['counts'])} "
        f"| at most 1.10 x floor, no 429 | {_yes(r['met'])} |",
        "",
    ]


def _parallel(r: dict[str, Any]) -> list[str]:
    lines = [
        "## 9. One tenant's budget shared by parallel upsert tasks",
        "",
        f"`{r['command']}`",
        "",
        f"{r['processes']} upsert batches of one run (2 workers x 4 parallel tasks), each in a process "
        f"of its own, write to one tenant at production limits (60 a minute, 5 at once) at "
        f"`--time-scale {r['time_scale']:g}`, every process spending the tenant's budget in the state "
        "database (PostgreSQL). Times in simulated minutes; the floor is the calls XPM counted during the "
        'upsert ÷ 60; "Upsert" runs from telling the set-up processes to go (warm workers) to the last '
        "one's end.",
        "",
        "| Funds | Processes | Calls counted | Writes | 429s | Floor (min) | Upsert (min) | API span (min) "
        "| Upsert ÷ floor | Real seconds | Outcomes | Target | Met |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
        f"| {r['funds']:,} | {r['processes']} | {r['calls']:,} | {r['writes']:,} | {r['rejected']} "
        f"| {r['floor_minutes']} | {r['upsert_minutes']} | {r['api_minutes']} | {r['ratio']} "
        f"| {r['real_seconds']} | {_counts(r['counts'])} | at most 1.10 x floor, no 429 | {_yes(r['met'])} |",
        "",
        *_parallel_load(r),
        "What the shared budget adds to each call (take a slot, read XPM's answer, give the slot back), "
        "measured without HTTP, one process:",
        "",
        "| State database | Calls | Transactions a call | Statements a call | ms a call |",
        "|---|---:|---:|---:|---:|",
    ]
    for o in r["overhead"]:
        lines.append(
            f"| {o['database']} | {o['calls']:,} | {o['transactions_per_call']} | {o['statements_per_call']} "
            f"| {o['ms_per_call']} |"
        )
    return [*lines, ""]


def _parallel_load(r: dict[str, Any]) -> list[str]:
    """How busy the machine was: the row's wall time moves with the load, its call counts do not."""
    if "load" not in r:
        return []
    at_go, at_end = r["load"]
    return [
        f"Measured {r.get('measured_at', '')} with the machine's 1-minute load average {at_go} when the "
        f"processes were told to go and {at_end} when the last ended ({r.get('cores', '?')} cores).",
        "",
    ]


def _throughput(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## 3. Local throughput: extract, validate, map, plan (PostgreSQL, XPM empty)",
        "",
        "Each stage runs in a fresh process (as an Airflow task does); seconds are the stage alone, peak RSS "
        "is the process's (`ru_maxrss`, pandas and Great Expectations imported: the baseline "
        "column). Mapping "
        "runs inside plan; the map row measures it alone and is not added to the total. CPU seconds are "
        "the stage process's own (user + system); PostgreSQL's work is in the wall seconds only. Targets "
        "(for 100,000 funds): total ≤ 30 s, peak RSS ≤ 1.5 GB, 2 cores.",
        "",
    ]
    for r in rows:
        lines += [
            f"### {r['funds']:,} funds, {r['members']:,} members",
            "",
            f"`{r['command']}`",
            "",
            "| Stage | Seconds | CPU seconds | Peak RSS (MB) | Baseline RSS (MB) | Result |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for name, stage in r["stages"].items():
            result = ", ".join(f"{k} {v:,}" for k, v in (stage["result"] or {}).items())
            lines.append(
                f"| {name} | {stage['seconds']} | {stage.get('cpu_seconds', '')} | "
                f"{stage['peak_rss_mb']:,} | {stage['baseline_rss_mb']:,} | {result} |"
            )
        lines += [
            f"| **total (extract + validate + plan)** | **{r['total_seconds']}** | | "
            f"**{r['peak_rss_mb']:,}** | | "
            f"target ≤ 30 s and ≤ 1,536 MB: {_yes(r['met'])} |",
            "",
        ]
        if r.get("profile"):
            lines += [
                f"Profile of the slowest stage, `{r['profile_stage']}` (cProfile, cumulative; "
                "profiling slows it):",
                "",
                "```",
                *[line.rstrip() for line in r["profile"].strip().splitlines()[:30]],
                "```",
                "",
            ]
    return lines


def _quota(r: dict[str, Any]) -> list[str]:
    lines = [
        "## 4. Daily quota: a backfill larger than a day",
        "",
        f"`{r['command']}`",
        "",
        f"{r['funds']:,} funds ({r['sendable']:,} sendable after the gate) against {r['day_limit']:,} "
        "calls a "
        f"day; the sync keeps {r['reserve']:,} ({r['reserve'] / r['day_limit']:.0%}) for people using XPM. "
        "Each simulated day runs the nightly full sync with no parameter; the simulator's clock then moves a "
        'day. The per-minute limit is lifted here, so a 429 could only be the daily limit\'s. "Calls" are '
        "those XPM counted (the 401 of the token that expired overnight is not).",
        "",
        "| Day | Calls | Writes | 429s | Outcomes |",
        "|---:|---:|---:|---:|---|",
    ]
    for day in r["days"]:
        lines.append(
            f"| {day['day']} | {day['calls']:,} | {day['writes']:,} | {day['rejected']} | "
            f"{_counts(day['counts'])} |"
        )
    lines += [
        "",
        f"Days with writes: {r['writing_days']} (fewest the quota allows: {r['fewest_days']}); "
        "clients in XPM at "
        f"the end: {r['clients_in_xpm']:,}; most calls in a day: {max(d['calls'] for d in r['days']):,} "
        f"(limit less reserve {r['day_limit'] - r['reserve']:,}). Target (fewest days, never over, reserve "
        f"kept, no manual step): {_yes(r['met'])}.",
        "",
    ]
    return lines


def _pages(r: dict[str, Any]) -> list[str]:
    lines = [
        "## 5. Page speed: 10,000 funds, run pages of 10,000 rows (PostgreSQL)",
        "",
        f"`{r['command']}` (measured {r['measured_at']})",
        "",
        f"{r['rows']:,} funds on the dashboard; a run with {r['rows']:,} problem rows and a dry run with a "
        f"diff of {r['rows']:,} funds, each beside 30 earlier runs for the trend. Each page is the plugin's "
        "app called in process (FastAPI's TestClient, Airflow's SimpleAuthManager deciding the role): its "
        f"queries, report read and template. The first answer is timed on its own (the report not yet "
        f"parsed), then {r['repeats']} more.",
        "",
        "| Page | Path | Status | Size (KB) | First (ms) | Median (ms) | Slowest (ms) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in r["pages"]:
        lines.append(
            f"| {p['page']} | `{p['path']}` | {p['status']} | {p['kilobytes']} | {p['first_ms']} "
            f"| {p['median_ms']} "
            f"| {p['slowest_ms']} |"
        )
    slowest = max(max(p["first_ms"], p["slowest_ms"]) for p in r["pages"])
    lines += ["", f"Slowest answer {slowest} ms. Target (every page under 1 s): {_yes(r['met'])}.", ""]
    return lines


def _instant_rows(r: dict[str, Any]) -> list[str]:
    rows = []
    if new := r["new_funds"]:
        rows.append(
            f"| one new fund | {len(new)} | {sorted(new)[len(new) // 2]} | | {max(new)} | one each | | |"
        )
    if bulk := r["bulk"]:
        rows.append(
            f"| bulk import, {bulk['funds']} funds, one transaction each ({bulk['import_seconds']} s to "
            f"import) | 1 | | | {bulk['to_last_write_seconds']} after the last commit | {bulk['runs']} "
            f"({', '.join(bulk['run_types'])}) | one run or a few | {_yes(bulk['runs'] <= 5)} |"
        )
    return rows


def _instant(r: dict[str, Any]) -> list[str]:
    runs = ", ".join(f"{n} {kind}" for kind, n in r["run_types"].items())
    return [
        "## 8. Instant sync: from the Class commit to the XPM write, Airflow running for real",
        "",
        f"`{r['command']}` (measured {r['measured_at']})",
        "",
        "api-server, scheduler, dag-processor and triggerer run as separate processes (LocalExecutor, "
        "PostgreSQL metadata DB, Airflow's default loop settings); Class and state on PostgreSQL; the "
        "simulator at production limits (60 calls a minute, 5 at once). Nothing is triggered by hand: the "
        "watcher (default settings: a read every 5 s, fire after 5 s quiet) sets off every run. Latency is "
        "from the commit in Class to the simulator holding the change (polled every 0.2 s); edits are made "
        "one after another, each once the previous one reached XPM.",
        "",
        "| Change | Count | p50 (s) | p95 (s) | Slowest (s) | Runs | Target | Met |",
        "|---|---:|---:|---:|---:|---|---|---|",
        f"| one fund edited | {r['changes']} | {r['p50']} | {r['p95']} | {max(r['latencies'])} | one each "
        f"| p95 ≤ 60 s | {_yes(r['met'])} |",
        *_instant_rows(r),
        "",
        f"Each edit's latency (s): {', '.join(str(v) for v in r['latencies'])}. All runs: {runs}.",
        "",
        *([r["note"], ""] if r.get("note") else []),
        f"Watcher cost on the Class database, idle (no change, no run): {r['idle_queries_per_minute']} "
        "transactions a minute (PostgreSQL's own count, `pg_stat_database`, over 60 s). Each read is one "
        "grouped statement of counts and maxima: at most 60/poll_seconds = 12 a minute while polling; "
        "with `classxpm watch install-trigger`, one a minute when idle.",
        "",
    ]


def _class_api(r: dict[str, Any]) -> list[str]:
    lines = [
        "## 11. The Class API source: calls per fund and wall time at Class's limit",
        "",
        f"`{r['command']}` (measured {r['measured_at']})",
        "",
        "The Class simulator enforces Class's 500 calls a minute per OAuth client at `--class-api-scale F`; "
        "the client's window follows it (`rate_window_seconds = 60/F`), 4 funds at a time. Minutes are "
        "simulated: real seconds x F / 60. The floor is the calls Class answered ÷ 500. The export plan is "
        "the fund list and one `fund-reference-data-export` per fund (scope `fund.read`); the detail plan "
        "is the fund list, then `fund-detail`, `member-list` and one `member-detail` per member.",
        "",
        "Read ÷ floor above 1 is the reader's and the simulator's own work (one process, GIL shared, on "
        "a shared 2-core machine) scaled F times: the last column is the pace in real time. At a pace above "
        "Class's 8.3 calls a second, a read at Class's real limit (F = 1) takes the floor.",
        "",
        "| Plan | Funds | Members | Calls | Calls per fund | 429s | Floor (min) | Read (min) | Read ÷ floor "
        "| Real seconds | Calls a real second |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row['plan']} | {row['funds']:,} | {row['members']:,} | {row['calls']:,} "
        f"| {row['calls_per_fund']} "
        f"| {row['rejected']} | {row['floor_minutes']} | {row['minutes']} | {row['ratio']} | "
        f"{row['real_seconds']} | {row['calls'] / row['real_seconds']:.1f} |"
        for row in r["rows"]
    ]
    return [*lines, ""]


def _shards(r: dict[str, Any]) -> list[str]:
    lines = [
        "## 10. Many businesses in one run: shards of businesses per task",
        "",
        f"`{r['command']}`",
        "",
        f"{r['businesses']:,} Class businesses of {r['funds']} funds, each business its own XPM tenant on "
        f"the simulator (`--time-scale {r['time_scale']:g}`, 60 calls a minute a tenant), "
        f"`CLASSXPM_SHARD_BUSINESSES={r['shard_businesses']}`, "
        f"`CLASSXPM_SHARD_THREADS={r['shard_threads']}`, "
        "each DAG run by `airflow dags test` (one process, every task in turn, no scheduler: the scheduler's "
        "loop time is not measured here). Wall time is the whole command, Airflow's start included; CPU is "
        "the command's (its process and children: not the simulator's nor PostgreSQL's). The "
        f"demo's planted TFN/ABN faults are blanked. Set-up {r['setup_seconds']} s. Load average "
        f"{r['load_before']} before, {r['load_after']} after; measured {r['measured_at']}.",
        "",
        "| Run | DAG | State | Wall (s) | CPU (s) | CPU a business (s) | Task instances | Tasks | Sync runs "
        "| XPM calls | Writes |",
        "|---|---|---|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for run in r["runs"]:
        lines.append(
            f"| {run['run']} | `{run['dag_id']}` | {run['state']} | {run['seconds']} | {run['cpu_seconds']} "
            f"| {run['cpu_seconds'] / r['businesses']:.2f} | {run['task_instances']} "
            f"| {_counts(run['tasks'])} | {_counts(run['sync_runs'])} "
            f"| {run['calls']:,} | {run['writes']:,} |"
        )
    return [*lines, ""]


def _cluster_sections(results: list[dict[str, Any]] | dict[str, Any]) -> list[str]:
    sizes = [results] if isinstance(results, dict) else results
    lines = [
        "## 12. Many businesses on the cluster: first sync and the no-change nightly, two Celery workers",
        "",
    ]
    for r in sizes:
        lines += _cluster_shards(r)
    return lines


def _cluster_shards(r: dict[str, Any]) -> list[str]:
    setup = r["setup_seconds"]
    lines = [
        f"### {r['businesses']:,} businesses of {r['funds']} funds",
        "",
        f"`{r['command']}`",
        "",
        f"{r['businesses']:,} Class businesses of {r['funds']} funds, each business its own XPM tenant on "
        f"the simulator (`--time-scale {r['time_scale']:g}`, 60 calls a minute a tenant), on "
        f"`classxpm.cluster` (`make cluster`: CeleryExecutor, {r['workers']} Celery workers, scheduler, "
        "dag-processor, triggerer, api-server on this machine), "
        f"`CLASSXPM_SHARD_BUSINESSES={r['shard_businesses']}`, "
        f"`CLASSXPM_SHARD_THREADS={r['shard_threads']}`. "
        "Each run is triggered through the REST API and waited on by its state. Wall is Airflow's own start "
        "to end of the run (trigger to end in brackets); hosts are the workers named in its task instances; "
        "CPU is each component's processes, task processes included, from /proc; the scheduler's loop time "
        "is its `Ran scheduling loop in ... ms` DEBUG line over the run (that one logger at DEBUG: a few "
        "more lines a loop than production writes). The demo's planted TFN/ABN faults "
        f"are blanked. Set-up: Class data {setup['class_data']} s, cluster start {setup['cluster_start']} s, "
        f"authorising {setup['authorise']} s (of which the code flows {setup['authorise_code_flows']} s, "
        f"{r['authorise_seconds_a_business']} s a business, {r['authorise_threads']} at once). Load "
        f"average {r['load_before']} before, {r['load_after']} after; measured {r['measured_at']}.",
        "",
        "| Run | DAG | State | Wall (s) | Wall a business (s) | Task instances | Hosts | Sync runs "
        "| XPM calls | Writes | 429s | CPU workers (s) | CPU scheduler (s) | CPU api-server (s) "
        "| CPU simulator (s) | Loops | Loop mean / p50 / p95 / max (ms) |",
        "|---|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in r["runs"]:
        cpu, loop = run["cpu_seconds"], run["loop"]
        workers = sum(seconds for name, seconds in cpu.items() if name.startswith("worker-"))
        figures = " / ".join("-" if loop[k] is None else f"{loop[k]:,.0f}" for k in LOOP_FIGURES)
        lines.append(
            f"| {run['run']} | `{run['dag_id']}` | {run['state']} | {run['seconds']:,} "
            f"({run['trigger_seconds']:,}) | {run['seconds'] / r['businesses']:.2f} "
            f"| {run['task_instances']} | {_counts(run['hosts'])} | {_counts(run['sync_runs'])} "
            f"| {run['calls']:,} | {run['writes']:,} "
            f"| {run['rejected']:,} | {workers:,.1f} | {cpu.get('scheduler', 0):,.1f} "
            f"| {cpu.get('api-server', 0):,.1f} | {cpu.get('xpm-sim', 0):,.1f} "
            f"| {loop['count']:,} | {figures} |"
        )
    lines += ["", "Task instances by task:", ""]
    lines += [f"- {run['run']} (`{run['dag_id']}`): {_counts(run['tasks'])}" for run in r["runs"]]
    return [*lines, ""]


def render(document: dict[str, Any]) -> str:
    """The whole ``RESULTS.md``."""
    results = document["results"]
    lines = _header(document)
    if "calls" in results:
        lines += ["## 1. API calls per sync, ours and the naive full push", ""]
        for block in results["calls"]:
            lines += _calls(block)
    if "walltime" in results:
        lines += _walltime(results["walltime"])
    if "throughput" in results:
        lines += _throughput(results["throughput"])
    if "quota" in results:
        lines += _quota(results["quota"])
    if "pages" in results:
        lines += _pages(results["pages"])
    if CHANGES.exists():
        lines += ["", CHANGES.read_text(encoding="utf-8").strip(), ""]
    if "readpath" in results:
        lines += ["", *_readpath(results["readpath"])]
    if "instant" in results:
        lines += ["", *_instant(results["instant"])]
    if "parallel" in results:
        lines += ["", *_parallel(results["parallel"])]
    if "shards" in results:
        lines += ["", *_shards(results["shards"])]
    if "classapi" in results:
        lines += ["", *_class_api(results["classapi"])]
    if "cluster-shards" in results:
        lines += ["", *_cluster_sections(results["cluster-shards"])]
    return "\n".join(lines).rstrip() + "\n"
