"""``job.api`` reads: current jobs, a client's jobs, one job with its tasks, and jobs with tasks (§4.3)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from classxpm.xpm_sim import records
from classxpm.xpm_sim.api import NOT_FOUND, ApiError, Call, xpm_route
from classxpm.xpm_sim.clients import live_client
from classxpm.xpm_sim.dates import parse_input_date
from classxpm.xpm_sim.render import job_element

FINISHED_STATES = frozenset({"completed", "cancelled"})


def _jobs_element(call: Call, jobs: list[dict[str, Any]], detailed: bool) -> ET.Element:
    element = ET.Element("Jobs")
    element.extend(job_element(call.sim.store, call.sim.config, job, detailed) for job in jobs)
    return element


def current(call: Call) -> Response:
    """Jobs not in a finished state (Completed, Cancelled)."""
    jobs = [
        job
        for job in records.tenant_records(call.sim.store, "jobs", call.tenant)
        if job["State"].lower() not in FINISHED_STATES
    ]
    return call.ok(_jobs_element(call, jobs, call.flag("detailed")))


def of_client(call: Call) -> Response:
    """Every job of one client."""
    client = live_client(call, call.path("uuid"), include_deleted=True)
    jobs = [
        j
        for j in records.tenant_records(call.sim.store, "jobs", call.tenant)
        if j["_client"] == client["UUID"]
    ]
    return call.ok(_jobs_element(call, jobs, detailed=False))


def get_job(call: Call) -> Response:
    """One job by its number, with ``<Tasks>``, ``<Milestones>`` and ``<Notes>``."""
    job = records.find(call.sim.store, "jobs", call.tenant, call.path("jobNumber"))
    if job is None:
        raise ApiError("Invalid job identifier", NOT_FOUND)
    return call.ok(job_element(call.sim.store, call.sim.config, job, detailed=True))


def with_tasks(call: Call) -> Response:
    """Jobs with their tasks filtered by ``complete``, ``due`` and ``start`` (yyyyMMdd, on or before)."""
    keep = _task_filter(call)
    found = []
    for job in records.tenant_records(call.sim.store, "jobs", call.tenant):
        tasks = [task for task in job["Tasks"] if keep(task)]
        if tasks:
            found.append({**job, "Tasks": tasks})
    return call.ok(_jobs_element(call, found, detailed=True))


def _task_filter(call: Call) -> Any:
    complete = call.param("complete")
    bounds = {name: _date_param(call, name) for name in ("due", "start")}

    def keep(task: dict[str, Any]) -> bool:
        if complete is not None and task["Completed"] != (complete.lower() == "true"):
            return False
        for name, field in (("due", "DueDate"), ("start", "StartDate")):
            bound = bounds[name]
            value = parse_input_date(task[field]) if task[field] else None
            if bound is not None and (value is None or value > bound):
                return False
        return True

    return keep


def _date_param(call: Call, name: str) -> Any:
    text = call.param(name)
    if not text:
        return None
    parsed = parse_input_date(text)
    if parsed is None or len(text) != 8:
        raise ApiError(f"{name} must be yyyyMMdd")
    return parsed


ROUTES: list[Route] = [
    xpm_route("GET", "job.api/current", "job", "Current", current),
    xpm_route("GET", "job.api/client/{uuid}", "job", "List", of_client),
    xpm_route("GET", "job.api/get/{jobNumber}", "job", "Get", get_job),
    xpm_route("GET", "job.api/tasks", "job", "Tasks", with_tasks),
]
