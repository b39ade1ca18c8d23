"""GX Data Docs in headless Chromium with no internet: from disk and through the plugin's report route.

Every request that would leave the machine is aborted and recorded; the pages must not make one, every
local file they load must exist, the index's table (built by bootstrap-table's JavaScript) must list the
run's validations, and Bootstrap's and Font Awesome's styles must apply.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from classxpm.validation.gate import validate_frames
from classxpm.validation.report import DATA_DOCS, safe_name
from fixtures.validation_frames import frames, fund_row, member_row

BUSINESS = "biz-docs"
RUN = "class_xpm_sync/manual_docs"


def _validated(reports: Path) -> Path:
    rows = [fund_row(1), fund_row(2, abn="51 824 753 557"), fund_row(3)]
    funds, members = frames(rows, [member_row("f-1", 0), member_row("f-2", 0, email="not-an-email")])
    result = validate_frames(funds, members, run_id=RUN, business_id=BUSINESS, reports_dir=reports)
    assert result.report.data_docs is not None
    return result.report.data_docs.parent


class Offline:
    """A browser context that aborts requests leaving ``local``, keeping what it asked for and what failed."""

    def __init__(self, context, local: str) -> None:
        self.local = local
        self.off_machine: list[str] = []
        self.failed: list[str] = []
        context.route("**/*", self._route)
        context.on("request", self._seen)
        context.on("requestfailed", lambda request: self.failed.append(request.url))

    def _is_local(self, url: str) -> bool:
        return url.startswith((self.local, "data:", "about:"))

    def _route(self, route) -> None:
        if self._is_local(route.request.url):
            route.continue_()
        else:
            route.abort()

    def _seen(self, request) -> None:
        if not self._is_local(request.url):
            self.off_machine.append(request.url)

    def assert_all_local(self) -> None:
        assert self.off_machine == []
        assert self.failed == []


def loaded(page) -> None:
    page.wait_for_load_state("load")
    page.wait_for_function("document.fonts.status === 'loaded'")


def style(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"e => getComputedStyle(e).getPropertyValue('{prop}')")


def assert_styled(page) -> None:
    assert style(page, "nav.navbar", "display") == "flex"  # Bootstrap's rule; a <nav> is a block otherwise
    assert page.eval_on_selector("nav.navbar img", "img => img.naturalWidth") > 0


def assert_index_lists_the_run(page) -> None:
    rows = page.locator("table.ge-index-page-validation-results-table tbody tr")
    rows.first.wait_for()
    texts = rows.all_inner_texts()
    assert len(texts) == 2
    listed = [suite for suite in ("class-funds", "class-members") if any(suite in text for text in texts)]
    assert listed == ["class-funds", "class-members"]
    assert_styled(page)
    assert style(page, ".nav-tabs", "border-bottom-style") == "solid"
    # Wait on the condition: a page opened in place may still be swapping documents when "load" fires.
    page.wait_for_function(
        "() => { const icon = document.querySelector('i.fas');"
        " return icon !== null && getComputedStyle(icon).fontFamily.includes('Font Awesome 6 Free'); }"
    )
    assert "Font Awesome 6 Free" in style(page, "i.fas", "font-family")
    assert page.evaluate("""document.fonts.check('900 16px "Font Awesome 6 Free"')""")


def open_validation(page, suite: str) -> None:
    rows = page.locator("table.ge-index-page-validation-results-table tbody tr")
    rows.filter(has_text=suite).click()
    page.wait_for_url(f"**/validations/{suite.replace('-', '_')}/**")
    loaded(page)
    assert_styled(page)
    assert style(page, ".card", "border-top-style") == "solid"
    assert "Unsuccessful Expectations" in page.inner_text("body")


@pytest.fixture(scope="module")
def docs_on_disk(tmp_path_factory) -> Path:
    return _validated(tmp_path_factory.mktemp("reports"))


def test_data_docs_open_from_disk_with_no_internet(chromium, docs_on_disk, shot):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        offline = Offline(context, "file://")
        page = context.new_page()
        page.goto(docs_on_disk.joinpath("index.html").as_uri())
        loaded(page)
        assert_index_lists_the_run(page)
        shot(page, "data-docs-index-offline")
        open_validation(page, "class-funds")
        shot(page, "data-docs-validation-offline")
        page.goto(docs_on_disk.joinpath("expectations", "class_members.html").as_uri())
        loaded(page)
        assert_styled(page)
        offline.assert_all_local()
    finally:
        context.close()


def test_data_docs_open_from_the_reports_page_with_no_internet(stack, signed_in, shot):
    folder = _validated(stack.reports)
    assert folder == stack.reports / safe_name(BUSINESS) / safe_name(RUN) / DATA_DOCS
    context = signed_in("viewer")
    offline = Offline(context, stack.url)
    page = context.new_page()
    page.goto(f"{stack.url}/classxpm/reports?business={BUSINESS}")
    page.click("text=Data Docs")  # in place: Airflow's frame allows no new tab
    page.wait_for_url(f"{stack.url}/classxpm/reports/{BUSINESS}/**")
    docs = page
    loaded(docs)
    assert docs.url.startswith(f"{stack.url}/classxpm/reports/{BUSINESS}/")
    assert_index_lists_the_run(docs)
    shot(docs, "data-docs-index-through-the-plugin")
    open_validation(docs, "class-members")
    shot(docs, "data-docs-validation-through-the-plugin")
    offline.assert_all_local()
