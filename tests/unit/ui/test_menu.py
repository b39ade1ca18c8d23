"""The plugin's places in Airflow's UI: the menu entries, the DAG run tab, and addresses inside Airflow."""

from __future__ import annotations

from classxpm.ui.menu import external_views, in_airflow


def test_the_menu_entries_are_framed_pages_of_the_class_xpm_category():
    menu = [view for view in external_views() if view["destination"] == "nav"]

    assert [view["name"] for view in menu] == ["Integration settings", "Fund dashboard", "Validation reports"]
    assert {view["category"] for view in menu} == {"Class XPM"}
    assert all(view["url_route"] and view["href"].startswith("/classxpm/") for view in menu)


def test_every_dag_run_gets_a_tab_templated_with_its_dag_and_run_ids():
    (tab,) = [view for view in external_views() if view["destination"] == "dag_run"]

    assert tab["name"] == "Class XPM sync"
    assert tab["href"] == "/classxpm/airflow-runs/{DAG_ID}/{RUN_ID}"
    assert tab["url_route"], "without a url_route Airflow shows no tab"


def test_a_page_inside_airflow_is_under_the_settings_entry_route():
    address = in_airflow("http://airflow.example/", "/classxpm/settings?business=b-1")

    assert address == "http://airflow.example/plugin/classxpm-settings/classxpm/settings?business=b-1"
