"""Scenario 3: local throughput of extract, validate, map and plan, each stage in a process of its own.

Class and the state database are PostgreSQL; XPM is empty, so the plan reads one page. Mapping happens
inside the plan step; the ``map`` row measures it alone (it is not added to the total).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.world import ROOT, World, one_ref, scratch_databases, simulator

STAGES = ("extract", "validate", "map", "plan")
COUNTED = ("extract", "validate", "plan")
UNLIMITED = {"minute_limit": 10_000_000, "day_limit": 100_000_000, "concurrent": 5}


@dataclass
class ThroughputRow:
    """Seconds and peak RSS per stage for one size."""

    funds: int
    members: int
    stages: dict[str, dict[str, Any]]
    generate_seconds: float
    profile_stage: str = ""
    profile: str = field(default="", repr=False)

    @property
    def total_seconds(self) -> float:
        """Extract + validate + plan (map is inside plan)."""
        return round(sum(self.stages[name]["seconds"] for name in COUNTED), 2)

    @property
    def peak_rss_mb(self) -> int:
        """The largest peak RSS of any stage."""
        return max(stage["peak_rss_mb"] for stage in self.stages.values())

    @property
    def met(self) -> bool:
        """At most 30 s and 1.5 GB (the targets are set for 100,000 funds)."""
        return self.total_seconds <= 30 and self.peak_rss_mb <= 1536

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the totals."""
        return {
            **asdict(self),
            "total_seconds": self.total_seconds,
            "peak_rss_mb": self.peak_rss_mb,
            "met": self.met,
        }


def start_child(spec: dict[str, Any]) -> subprocess.Popen:
    """Start one step in a fresh Python process (``bench.stage``); ``child_result`` reads what it printed."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bench.stage", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def child_result(process: subprocess.Popen, step: str) -> dict[str, Any]:
    """Wait for a child ``start_child`` started; returns what it printed.

    Raises:
        RuntimeError: The step failed (its stderr's end is in the message).
    """
    out, err = process.communicate()
    if process.returncode:
        raise RuntimeError(f"stage {step} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one stage in a fresh Python process; returns what it printed."""
    return child_result(start_child(spec), spec["step"])


def run_throughput(funds: int, seed: int, reports: Path, profile: bool = True) -> ThroughputRow:
    """Time each stage on ``funds`` demo funds; profile the slowest stage again when ``profile``."""
    from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
    from classxpm.state.migrations import upgrade

    with scratch_databases("class", "state") as urls, simulator(**UNLIMITED) as sim:
        began = time.perf_counter()
        summary = write_demo_data(urls["class"], funds, seed)
        generated = round(time.perf_counter() - began, 1)
        upgrade(urls["state"])
        world = World(urls["class"], urls["state"], sim, reports, minute_limit=UNLIMITED["minute_limit"])
        world.authorise(DEMO_BUSINESS_ID)
        spec = {**_spec(world, urls), "ref": _open_run(world)}
        stages = {name: child({**spec, "step": name}) for name in STAGES}
        row = ThroughputRow(funds, summary.members, stages, generated)
        if profile:
            row.profile_stage = max(COUNTED, key=lambda name: stages[name]["seconds"])
            row.profile = child({**spec, "step": row.profile_stage, "profile": True})["profile"]
        return row


def _spec(world: World, urls: dict[str, str]) -> dict[str, Any]:
    return {
        "class_url": urls["class"],
        "state_url": urls["state"],
        "sim": world.sim.base_url,
        "fernet_key": world.fernet_key,
        "reports": str(world.reports),
    }


def _open_run(world: World) -> dict[str, Any]:
    from classxpm.sync import steps
    from classxpm.sync.run import RunRequest

    with world.env() as env:
        return one_ref(steps.start(env, "bench_throughput", uuid.uuid4().hex, RunRequest())).to_xcom()
