from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from classxpm.cli import main


def run(*args: str):
    return CliRunner().invoke(main, ["demo-data", *args])


def test_writes_and_prints_a_one_paragraph_summary(db_url):
    result = run("--db", db_url, "--funds", "40", "--seed", "5")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Wrote 40 funds with ")
    assert re.search(r"in \d+\.\d s", lines[0])
    assert "without a TFN" in lines[0]
    assert not re.search(r"\d{8}", lines[0])  # no identifier, TFN above all, in the output


@pytest.mark.parametrize(
    "url",
    [
        "notaurl",
        "nosuchdialect://host/db",
        "postgresql://postgres@nosuchhost.invalid:5432/db",
        "postgresql://postgres:hunter2@127.0.0.1:1/db",
        "sqlite:////nonexistent-dir/class.db",
    ],
)
def test_a_bad_url_is_one_line_and_exit_code_2(url):
    result = run("--db", url, "--funds", "3")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("Error: ")
    assert "Traceback" not in result.output
    assert "hunter2" not in result.output


def test_a_non_empty_database_is_refused_without_replace(sqlite_url):
    assert run("--db", sqlite_url, "--funds", "4").exit_code == 0
    result = run("--db", sqlite_url, "--funds", "4")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "--replace" in result.output


def test_replace_rewrites_a_non_empty_database(sqlite_url):
    assert run("--db", sqlite_url, "--funds", "4").exit_code == 0
    result = run("--db", sqlite_url, "--funds", "6", "--replace")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote 6 funds")


def test_several_businesses_each_get_their_funds(sqlite_url):
    import sqlalchemy as sa

    from classxpm.source.demo_data import DEMO_BUSINESS_ID

    result = run("--db", sqlite_url, "--funds", "4", "--businesses", "3", "--seed", "5")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote 12 funds with ")
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        counts = dict(
            conn.execute(sa.text("SELECT business_id, count(*) FROM funds GROUP BY business_id")).all()
        )
        names = conn.execute(sa.text("SELECT count(*) FROM businesses")).scalar()
    engine.dispose()
    assert counts == {DEMO_BUSINESS_ID: 4, "demo-business-00002": 4, "demo-business-00003": 4}
    assert names == 3
