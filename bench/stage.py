"""Run one sync step in this process and print its seconds and peak RSS as JSON (scenario 3's child).

    python -m bench.stage '<json spec>'

The spec names the world (database URLs, the simulator, the Fernet key, the reports folder, optionally its
time scale and minute limit), the run and the step (with ``wait_for_go`` it prints ``ready`` once set up and
starts on a line on stdin, as a warm worker would) (``upsert`` with ``batch`` and ``of`` runs one mapped
batch; ``shared_budget`` spends the tenant's budget on the state database, as Airflow tasks do). Each step
runs in a fresh process, as an Airflow task does, so its peak RSS is its own.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

from classxpm.xpm_sim.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID
from classxpm.xpm_sim.testing import SimulatorHandle


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _map_only(env: Any, ref: Any) -> dict[str, int]:
    from classxpm.sync.planner import mapped_funds

    mapped = list(mapped_funds(env, ref))
    return {"mapped": sum(m.ok for m in mapped), "held back": sum(not m.ok for m in mapped)}


def _step(spec: dict[str, Any]) -> Any:
    from classxpm.sync import steps

    if spec["step"] == "upsert":
        return lambda env, ref: steps.upsert_funds(env, ref, spec.get("batch", 0), spec.get("of", 1))
    return _map_only if spec["step"] == "map" else getattr(steps, spec["step"])


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``spec["step"]`` on the world the spec names; returns seconds, peak RSS and the step's result."""
    import httpx

    from bench.world import World
    from classxpm.sync.run import RunRef

    if spec["step"] == "validate":
        import classxpm.validation.gate  # noqa: F401 - pandas and GX: loading them is not the stage's work

    sim = SimulatorHandle(
        spec["sim"], DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, httpx.Client()
    )
    world = World(
        spec["class_url"],
        spec["state_url"],
        sim,
        Path(spec["reports"]),
        spec.get("time_scale", 1.0),
        spec.get("minute_limit", 60),
        fernet_key=spec["fernet_key"],
    )
    ref, step = RunRef.from_xcom(spec["ref"]), _step(spec)
    baseline = _rss_mb()
    with world.env(shared_budget=spec.get("shared_budget", False)) as env:
        if spec.get("wait_for_go"):
            print("ready", flush=True)
            sys.stdin.readline()
        profile = cProfile.Profile() if spec.get("profile") else None
        began, cpu_began = time.perf_counter(), _cpu_seconds()
        if profile:
            profile.enable()
        result = step(env, ref)
        if profile:
            profile.disable()
        seconds, cpu_seconds = time.perf_counter() - began, _cpu_seconds() - cpu_began
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_rss_mb": round(_rss_mb()),
        "baseline_rss_mb": round(baseline),
        "result": result,
        "profile": _top(profile, spec.get("profile_lines", 25), spec.get("sort", "cumulative"))
        if profile
        else "",
    }


def _top(profile: cProfile.Profile, lines: int, sort: str = "cumulative") -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(sort).print_stats(lines)
    text = out.getvalue()
    return text[text.find("   ncalls") :] if "   ncalls" in text else text


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1])), default=str))
