"""The sync DAGs' trigger form: every param titled and described, none falsely required, defaults valid."""

from __future__ import annotations

import pytest
from airflow.sdk.definitions.param import ParamsDict

from classxpm.airflow.sync_dag import sync_params
from classxpm.sync.model import RunMode, SyncMode
from classxpm.sync.run import RunRequest


def marked_required(schema: dict) -> bool:
    """Airflow 3.3's trigger form marks a field required when its type is set and does not allow null."""
    kind = schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_the_defaults_validate_and_make_the_request_the_schedule_runs(mode):
    resolved = ParamsDict(sync_params(mode)).validate()

    request = RunRequest.from_params(resolved)

    assert request == RunRequest(mode=RunMode(mode), sync_mode=SyncMode.UPSERT, batch_size=500)


@pytest.mark.parametrize("name", list(sync_params("full")))
def test_every_param_has_a_title_and_a_description_and_no_required_mark(name):
    param = sync_params("full")[name]

    assert param.schema.get("title"), name
    assert param.description, name
    assert not marked_required(param.schema), f"{name} would show a required mark, yet it has a default"


def test_a_cleared_optional_field_validates_and_means_its_default():
    params = ParamsDict(sync_params("full"))
    for name in ("business_id", "dry_run", "fund_codes", "batch_size"):
        params[name] = None

    request = RunRequest.from_params(params.validate())

    chosen = (request.business_id, request.dry_run, request.fund_codes, request.batch_size)
    assert chosen == (None, False, (), 500)


@pytest.mark.parametrize(
    ("name", "value"),
    [("mode", "sometimes"), ("sync_mode", "delete"), ("batch_size", 0), ("dry_run", "yes")],
)
def test_the_form_refuses_values_the_sync_does_not_know(name, value):
    from airflow.sdk.exceptions import ParamValidationError

    params = ParamsDict(sync_params("full"))

    with pytest.raises(ParamValidationError):
        params[name] = value


def test_choices_are_shown_in_words():
    params = sync_params("full")

    assert set(params["mode"].schema["values_display"]) == {"full", "incremental"}
    assert set(params["sync_mode"].schema["values_display"]) == set(params["sync_mode"].schema["enum"])
