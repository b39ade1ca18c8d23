from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classxpm.cli import main
from classxpm.source.demo_data import generate
from classxpm.validation.gate import validate_frames
from classxpm.validation.outcome import ValidationGateError
from classxpm.validation.report import latest_report, reports_root, run_folder
from classxpm.validation.rules import RULES
from fixtures.validation_frames import good_frames

RUN_ID = "manual__2026-06-30T10:00:00+00:00"
FIX = {rule.name: rule.fix for rule in RULES}
BUSINESS = "3f6c1a52-8d4e-4b7a-9c21-5e0f7d9b2a64"


def demo_frames(count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    chunks = list(generate(count))
    funds = pd.DataFrame([row for chunk in chunks for row in chunk.funds])
    members = pd.DataFrame([row for chunk in chunks for row in chunk.members])
    funds.loc[0, "tfn"] = "000 000 000"
    funds.loc[1, "tfn"] = "123 456 789"
    funds.loc[2, "tfn"] = "876 543 210"
    funds.loc[3, "abn"] = "51 824 753 557"
    funds.loc[4, "tfn"] = None
    members.loc[members["fund_id"] == funds.loc[4, "fund_id"], ["first_name", "last_name"]] = None
    return funds, members


def tfn_forms(funds: pd.DataFrame) -> set[str]:
    """Every source TFN, as stored, without spaces, and spaced 3-3-3."""
    forms = set()
    for tfn in funds["tfn"].dropna():
        digits = tfn.replace(" ", "")
        forms |= {tfn, digits, f"{digits[:3]} {digits[3:6]} {digits[6:]}"}
    return forms


def scan(folder: Path, forms: set[str]) -> dict[str, int]:
    hits = {}
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            found = sum(form in text for form in forms)
            if found:
                hits[str(path.relative_to(folder))] = found
    return hits


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    funds, members = demo_frames(300)
    result = validate_frames(funds, members, run_id=RUN_ID, business_id=BUSINESS, reports_dir=root)
    return root, funds, result


def test_report_files_are_written_per_business_and_run(demo_run):
    root, _, result = demo_run
    folder = run_folder(root, BUSINESS, RUN_ID)
    assert result.report.folder == folder
    assert folder == root / BUSINESS / "manual__2026-06-30T10_00_00_00_00"
    assert result.report.summary.is_file()
    assert result.report.json.is_file()
    assert result.report.data_docs == folder / "data_docs" / "index.html"
    assert result.report.data_docs.is_file()
    assert list((folder / "data_docs" / "validations").rglob("*.html"))


def test_validation_json_matches_the_result(demo_run):
    _, funds, result = demo_run
    document = json.loads(result.report.json.read_text())
    assert document["status"] == "checked"
    assert document["counts"] == result.counts()
    assert document["counts"]["funds_checked"] == len(funds)
    by_id = {entry["fund_id"]: entry for entry in document["quarantined"]}
    assert by_id[funds.loc[0, "fund_id"]]["rules"] == [f"TFN fails its check digit: {FIX['tfn_check_digit']}"]
    assert by_id[funds.loc[1, "fund_id"]]["tfn"] == "invalid"
    assert by_id[funds.loc[3, "fund_id"]]["rules"] == [
        f'ABN "51 824 753 557" fails its check digit: {FIX["abn_check_digit"]}'
    ]
    assert funds.loc[2, "fund_id"] not in by_id
    assert {entry["tfn"] for entry in document["quarantined"]} <= {"absent", "valid", "invalid"}
    warned = {entry["fund_id"]: entry for entry in document["warnings"]}
    assert funds.loc[4, "fund_id"] not in by_id, "a nameless member holds back no fund"
    nameless = warned[funds.loc[4, "fund_id"]]
    assert nameless["tfn"] == "absent"
    assert nameless["rules"]
    named = f" has no name: {FIX['member_named']}"
    assert all(rule.startswith("member ") and rule.endswith(named) for rule in nameless["rules"])
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")
    assert not any(uuid.search(rule) for rule in nameless["rules"]), "members by name, never by their id"


def test_summary_lists_quarantined_funds_by_scope_code_and_name_with_the_rule(demo_run):
    _, funds, result = demo_run
    html = result.report.summary.read_text()
    assert f"<td>{funds.loc[3, 'scope_code']}</td>" in html
    assert "ABN &#34;51 824 753 557&#34; fails its check digit" in html, "the ABN at fault is shown"
    assert FIX["abn_check_digit"].replace("'", "&#39;") in html, "with what to change in Class"
    assert f"Quarantined funds (not sent): {len(result.quarantined)}" in html
    assert "http" not in html  # no CDN, no external asset: it opens offline
    assert 'href="data_docs/index.html"' in html


def test_no_tfn_in_clear_in_any_report_file(demo_run):
    root, funds, _ = demo_run
    forms = tfn_forms(funds)
    assert len(forms) > 500
    assert scan(root, forms) == {}


def test_the_scan_finds_a_tfn_where_there_is_one(demo_run, tmp_path):
    _, funds, _ = demo_run
    funds[["scope_code", "tfn"]].head(3).to_csv(tmp_path / "leak.csv")
    assert scan(tmp_path, tfn_forms(funds)) == {"leak.csv": 3}


def test_a_missing_column_stops_with_a_short_message_and_a_report(tmp_path):
    funds, members = good_frames(3)
    with pytest.raises(ValidationGateError) as caught:
        validate_frames(
            funds.drop(columns=["tfn"]), members, run_id="r-2", business_id="b-1", reports_dir=tmp_path
        )
    summary = tmp_path / "b-1" / "r-2" / "summary.html"
    assert str(caught.value) == (
        "validation stopped, 3 funds and 6 members not checked: funds lacks column tfn (tfn_check_digit); "
        f"report: {summary}"
    )
    assert "funds lacks column tfn" in summary.read_text()
    document = json.loads((tmp_path / "b-1" / "r-2" / "validation.json").read_text())
    assert (document["status"], document["files"]["data_docs"]) == ("stopped", None)


def test_reports_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CLASSXPM_REPORTS_DIR", str(tmp_path / "explicit"))
    assert reports_root() == tmp_path / "explicit"
    assert reports_root(tmp_path / "given") == tmp_path / "given"
    monkeypatch.delenv("CLASSXPM_REPORTS_DIR")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    assert reports_root() == tmp_path / "airflow" / "reports"


def test_run_and_business_ids_cannot_leave_the_reports_folder(tmp_path):
    folder = run_folder(tmp_path, "../../etc", "../run/../../x")
    assert folder.resolve().is_relative_to(tmp_path.resolve())
    assert folder.parent.parent == tmp_path


def write_run(root: Path, business: str, run: str, mtime: int, bad_tfn: bool = False) -> None:
    funds, members = good_frames(2)
    if bad_tfn:
        funds.loc[1, "tfn"] = "123456789"
    result = validate_frames(funds, members, run_id=run, business_id=business, reports_dir=root)
    os.utime(result.report.json, (mtime, mtime))


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    write_run(root, "b-1", "run-old", 1_000)
    write_run(root, "b-1", "run-new", 3_000, bad_tfn=True)
    write_run(root, "b-2", "run-mid", 2_000)
    return root


def test_latest_report_is_the_newest_run_of_a_business_or_of_all(three_runs):
    assert latest_report(three_runs).document["run_id"] == "run-new"
    assert latest_report(three_runs, business_id="b-2").document["run_id"] == "run-mid"
    assert latest_report(three_runs, business_id="b-3") is None


def test_cli_report_latest_prints_where_counts_and_quarantined_funds(three_runs):
    outcome = CliRunner().invoke(main, ["report", "latest", "--reports-dir", str(three_runs)])
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.output.splitlines()
    assert lines[0] == f"Validation report: {three_runs / 'b-1' / 'run-new' / 'summary.html'}"
    assert "funds checked 2, passed 1, quarantined 1, with warnings 0, members checked 4" in lines
    assert lines[-1] == f"  FUND01  Fund 1 Super Fund: TFN fails its check digit: {FIX['tfn_check_digit']}"
    assert "123456789" not in outcome.output


def test_cli_report_latest_for_one_business(three_runs):
    outcome = CliRunner().invoke(
        main, ["report", "latest", "--reports-dir", str(three_runs), "--business", "b-2"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "Run run-mid of business b-2" in outcome.output
    assert "Quarantined" not in outcome.output


def test_cli_report_latest_without_reports(tmp_path):
    outcome = CliRunner().invoke(main, ["report", "latest", "--reports-dir", str(tmp_path)])
    assert outcome.exit_code == 1
    assert f"no validation report under {tmp_path}" in outcome.output


def test_cli_report_latest_shows_a_stopped_run(tmp_path):
    funds, members = good_frames(1)
    with pytest.raises(ValidationGateError):
        validate_frames(
            funds, members.drop(columns=["fund_id"]), run_id="r", business_id="b", reports_dir=tmp_path
        )
    outcome = CliRunner().invoke(main, ["report", "latest", "--reports-dir", str(tmp_path)])
    assert "Stopped: members lacks column fund_id (identifies the rows)" in outcome.output
    assert "funds received 1, members received 2" in outcome.output


def test_a_retried_run_keeps_only_the_last_attempt_s_data_docs(tmp_path):
    funds, members = good_frames(2)
    for _ in range(2):
        result = validate_frames(funds, members, run_id="r", business_id="b", reports_dir=tmp_path)
    pages = list((result.report.folder / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) == 2  # one funds page and one members page: GX drops pages it has no result for
