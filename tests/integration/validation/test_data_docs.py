"""Data Docs built by the gate load nothing from off the machine, and everything they load is in the site."""

from __future__ import annotations

import logging
import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from classxpm.validation import data_docs
from classxpm.validation.gate import check_frames
from fixtures.validation_frames import frames, fund_row, member_row

# Independent of classxpm.validation.data_docs: what a browser fetches, read with the standard library.
ANCHOR = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
TTF_FALLBACK = re.compile(r"\.woff2\)\s*format\([^)]*\)\s*,\s*url\(([^)]+\.ttf)\)")
MAX_SITE_BYTES = 3 * 2**20 // 2  # GX alone copied ~4 MB of fonts and animations into every run


class Fetches(HTMLParser):
    """Every attribute value that is not an <a href> link, and every inline style or script text."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {"src", "href", "srcset", "data", "poster", "background"}
        self.references += [v for n, v in attrs if v and n in names and not (tag == "a" and n == "href")]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    docs = tmp_path_factory.mktemp("site") / "data_docs"
    rows = [fund_row(1), fund_row(2, abn="51 824 753 557", tfn="123 456 789"), fund_row(3)]
    funds, members = frames(rows, [member_row("f-1", 0), member_row("f-2", 0, email="nobody")])
    check_frames(funds, members, run_id="r-1", business_id="b-1", docs_dir=docs)
    return docs


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def stylesheets(site: Path) -> list[Path]:
    return sorted(site.rglob("*.css"))


def css_fetches(text: str) -> list[str]:
    return [url or imported for url, imported in CSS_URL.findall(text)]


def html_fetches(text: str) -> list[str]:
    parser = Fetches()
    parser.feed(text)
    return parser.references + css_fetches(text)


def off_machine(urls: list[str]) -> list[str]:
    return [url for url in urls if re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE)]


def test_the_site_has_pages_at_every_depth(site):
    depths = {len(page.relative_to(site).parts) for page in pages(site)}
    assert depths == {1, 2, 5}  # index, expectations/<suite>, validations/<suite>/<run>/<time>/<page>


def test_no_page_or_stylesheet_loads_anything_from_off_the_machine(site):
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        assert "://" not in ANCHOR.sub("", text), page  # nothing but plain links names another host
        assert off_machine(html_fetches(text)) == [], page
    for sheet in stylesheets(site):
        assert off_machine(css_fetches(sheet.read_text(encoding="utf-8"))) == [], sheet


def test_everything_the_pages_load_is_in_the_site(site):
    missing = []
    for path in pages(site) + stylesheets(site):
        text = path.read_text(encoding="utf-8")
        fallbacks = set(TTF_FALLBACK.findall(text))  # a browser that reads woff2 never fetches these
        folder = path.parent.relative_to(site).as_posix()
        for url in html_fetches(text) if path.suffix == ".html" else css_fetches(text):
            local = url.split("?")[0].split("#")[0]
            if not local or url in fallbacks or url.startswith(("data:", "#")):
                continue
            target = site / posixpath.normpath(posixpath.join(folder, local))
            if not target.resolve().is_relative_to(site.resolve()) or not target.is_file():
                missing.append(f"{path.relative_to(site)}: {url}")
    assert missing == []


def test_gx_emits_nothing_the_rewrite_does_not_know(tmp_path, caplog):
    funds, members = frames([fund_row(1)], [member_row("f-1", 0)])
    with caplog.at_level(logging.WARNING, logger="classxpm.validation.gate"):
        check_frames(funds, members, run_id="r-2", business_id="b-1", docs_dir=tmp_path / "docs")
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("Data Docs:")] == []


def test_the_site_keeps_only_what_its_pages_load(site):
    files = [path for path in site.rglob("*") if path.is_file()]
    sizes = {path.relative_to(site).as_posix(): path.stat().st_size for path in files}
    assert not [name for name in sizes if name.startswith("static/fonts/") or name.endswith(".gif")]
    assert not [name for name in sizes if "vega" in name]  # no page draws a chart
    assert "static/images/favicon.ico" in sizes
    assert sum(sizes.values()) < MAX_SITE_BYTES


def test_no_tfn_reaches_the_site(site):
    forms = {"123456789", "123 456 789", "123456782", "876 543 210", "876543210"}
    for path in site.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert [form for form in forms if form in text] == [], path


def gx_view_files() -> list[Path]:
    import great_expectations

    view = Path(great_expectations.__file__).parent / "render" / "view"
    files = [*view.glob("templates/*.j2"), *view.glob("static/styles/*.css")]
    return [path for path in files if not path.name.startswith("markdown_")]


def test_every_address_in_gx_s_templates_is_a_plain_link_or_has_a_local_copy():
    unknown, images = [], set()
    for path in gx_view_files():
        text = ANCHOR.sub("", path.read_text(encoding="utf-8"))
        if data_docs.GX_IMAGES in text:  # the template takes its images from GX's bucket
            named = re.findall(r'static_images_dir \+ "([^"]+)"', text)
            images |= {f"{data_docs.GX_IMAGES}/{name}" for name in named}
        for url in re.findall(r"""https?://[^\s"')]+""", text):
            if url.rstrip("/") != data_docs.GX_IMAGES and data_docs.local_copy(url) is None:
                unknown.append(f"{path.name}: {url}")
    assert unknown == []
    assert images
    assert [url for url in images if data_docs.local_copy(url) is None] == []


def test_a_chart_brings_vega_into_the_site_and_a_rebuild_without_one_drops_it(tmp_path):
    page = tmp_path / "validations" / "s" / "r" / "t" / "page.html"
    page.parent.mkdir(parents=True)
    (tmp_path / "static" / "fonts").mkdir(parents=True)
    (tmp_path / "static" / "fonts" / "unused.otf").write_bytes(b"font")
    vega = "".join(f'<script src="{url}"></script>\n' for url in data_docs.CHART_LIBRARIES)
    page.write_text(f"<head>{vega}</head><script>vegaEmbed('#c', {{}})</script>", encoding="utf-8")

    assert data_docs.make_offline(tmp_path) == ()
    vendored = sorted(p.name for p in (tmp_path / "static" / "vendor").rglob("*.min.js"))
    assert vendored == ["vega-embed.min.js", "vega-lite.min.js", "vega.min.js"]
    assert not (tmp_path / "static" / "fonts").exists()
    assert off_machine(html_fetches(page.read_text(encoding="utf-8"))) == []

    page.write_text(f"<head>{vega}</head><p>no chart</p>", encoding="utf-8")
    data_docs.make_offline(tmp_path)
    assert list((tmp_path / "static" / "vendor").rglob("*")) == []
    assert "<script" not in page.read_text(encoding="utf-8")
