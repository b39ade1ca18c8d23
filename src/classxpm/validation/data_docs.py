"""Great Expectations Data Docs that open with no internet: every page loads vendored copies, never a CDN.

GX 1.x writes pages that load jQuery, Bootstrap, bootstrap-table, Font Awesome, Vega and its logo from
public CDNs. Its template hooks cannot replace them: ``custom_views_directory`` is searched after GX's
own templates, so only new template names take effect. After ``build_data_docs`` this module therefore
rewrites what each page and stylesheet loads to the copies in ``data_docs_assets/`` (vendored from npm),
copies those into the site's ``static/vendor/`` (the plugin's report route serves only the run's folder),
and removes from ``static/`` whatever no page loads. An off-machine reference it does not know is
replaced by ``about:invalid`` and returned, so a GX upgrade cannot bring a CDN back unnoticed; the tests
fail on one. Light to import: no pandas, no GX.
"""

from __future__ import annotations

import functools
import posixpath
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

ASSETS = "data_docs_assets"
STATIC = "static"
VENDOR = f"{STATIC}/vendor"
NOWHERE = "about:invalid"  # what an unknown off-machine reference becomes: loads nothing
CHARTS_CALL = "vegaEmbed("

GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com"
_BOOTSTRAP_TABLE = "https://unpkg.com/bootstrap-table@{}/dist"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"

# Vega draws GX's charts; only pages that draw one keep it (GX loads it on every page).
CHART_LIBRARIES: dict[str, str] = {
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0/build/vega-embed.min.js",
}
# What GX's pages load from a CDN → the vendored copy, under data_docs_assets/.
VENDORED: dict[str, str] = {
    **CHART_LIBRARIES,
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/dist/jquery.min.js",
    f"{_CDNJS}/popper.js/1.12.9/umd/popper.min.js": "popper.js-1.12.9/dist/umd/popper.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap-4.3.1/dist/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap-4.3.1/dist/js/bootstrap.min.js"
    ),
    f"{_BOOTSTRAP_TABLE.format('1.19.1')}/bootstrap-table.min.css": (
        "bootstrap-table-1.19.1/dist/bootstrap-table.min.css"
    ),
    f"{_BOOTSTRAP_TABLE.format('1.19.1')}/bootstrap-table.min.js": (
        "bootstrap-table-1.19.1/dist/bootstrap-table.min.js"
    ),
    f"{_BOOTSTRAP_TABLE.format('1.19.1')}/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table-1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    # GX's index page names the minified CSS, its other pages the plain one: the same rules.
    **dict.fromkeys(
        (
            f"{_BOOTSTRAP_TABLE.format('1.19.0')}/extensions/filter-control/bootstrap-table-filter-control.min.css",
            f"{_BOOTSTRAP_TABLE.format('1.19.0')}/extensions/filter-control/bootstrap-table-filter-control.css",
        ),
        "bootstrap-table-1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    f"{_CDNJS}/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker-1.9.0/dist/css/bootstrap-datepicker.min.css"
    ),
    f"{_CDNJS}/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker-1.9.0/dist/js/bootstrap-datepicker.min.js"
    ),
    f"{_CDNJS}/font-awesome/6.6.0/css/all.min.css": "fontawesome-free-6.6.0/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark-1.1.0/dist/css/bootstrap-prefers-dark.min.css"
    ),
}
# GX's logo from its S3 bucket → the copy GX itself writes into every site (no dark variant ships with GX).
GX_OWN: dict[str, str] = {
    f"{GX_IMAGES}/logo-long.png": f"{STATIC}/images/logo-long.png",
    f"{GX_IMAGES}/full_logo_dark.png": f"{STATIC}/images/logo-long.png",
}

# Attributes through which an element loads something (an <a href> is a link, not a load).
_LOADING: dict[str, frozenset[str]] = {
    "script": frozenset({"src"}),
    "link": frozenset({"href"}),
    "img": frozenset({"src", "srcset"}),
    "source": frozenset({"src", "srcset"}),
    "iframe": frozenset({"src"}),
    "frame": frozenset({"src"}),
    "embed": frozenset({"src"}),
    "object": frozenset({"data"}),
    "video": frozenset({"src", "poster"}),
    "audio": frozenset({"src"}),
    "track": frozenset({"src"}),
    "input": frozenset({"src"}),
}
_CSS_REFERENCE = re.compile(
    r"""(?P<head>url\(\s*(?P<q>['"]?)) (?P<url>[^'")\s]+) (?P=q)\s*\)
      | (?P<imp>@import\s+(?P<iq>['"])) (?P<iurl>[^'"]+) (?P=iq)""",
    re.IGNORECASE | re.VERBOSE,
)
_SRI = re.compile(r"""\s+(?:integrity|crossorigin)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?""", re.IGNORECASE)
_ANCHORED_STATIC = re.compile(rf"^(?:\./|(?:\.\./)+)?(?={STATIC}/)")


@dataclass(frozen=True)
class Load:
    """One thing a page loads: where its tag starts in the text, the tag as written, and the reference."""

    start: int
    tag_text: str
    tag: str
    attribute: str
    url: str


class _LoadFinder(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self.loads: list[Load] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line, column = self.getpos()
        start = self._line_starts[line - 1] + column
        for name, value in attrs:
            if value and name in _LOADING.get(tag, ()):
                self.loads.append(Load(start, self.get_starttag_text() or "", tag, name, value.strip()))

    handle_startendtag = handle_starttag


def element_loads(html: str) -> list[Load]:
    """Every element of ``html`` that loads something (script, stylesheet, image, frame...)."""
    finder = _LoadFinder(html)
    finder.feed(html)
    finder.close()
    return finder.loads


def css_references(text: str) -> list[str]:
    """Every ``url(...)`` and ``@import`` reference in CSS (or in a page's styles)."""
    return [match["url"] or match["iurl"] for match in _CSS_REFERENCE.finditer(text)]


def page_references(html: str) -> list[str]:
    """Everything a page loads: its elements' references and its styles' ``url()`` and ``@import``."""
    return [load.url for load in element_loads(html)] + css_references(html)


def off_machine(url: str) -> bool:
    """Whether loading ``url`` would reach another machine (any scheme with a host, or ``//host``)."""
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in {"", "data", "about", "blob", "javascript"}


def local_copy(url: str) -> str | None:
    """The site path (from the site's root) that stands in for an off-machine ``url``, if one is known."""
    parts = urlsplit(url)
    bare = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else url
    if bare in VENDORED:
        return f"{VENDOR}/{VENDORED[bare]}"
    return GX_OWN.get(bare)


@dataclass(frozen=True)
class Rewritten:
    """A page or stylesheet after rewriting: its text and the off-machine references it did not know."""

    text: str
    unknown: tuple[str, ...]


class _Rewriter:
    def __init__(self, root: str) -> None:
        self.root = root  # the relative path from the file to the site's root: "", "../", ...
        self.unknown: list[str] = []

    def target(self, url: str) -> str:
        if not off_machine(url):
            return _ANCHORED_STATIC.sub(self.root, url, count=1)
        if (copy := local_copy(url)) is not None:
            return self.root + copy
        self.unknown.append(url)
        return NOWHERE

    def css(self, text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            if match["url"]:
                return f"{match['head']}{self.target(match['url'])}{match['q']})"
            return f"{match['imp']}{self.target(match['iurl'])}{match['iq']}"

        return _CSS_REFERENCE.sub(swap, text)

    def tag(self, text: str, load: Load) -> str:
        new = self.target(load.url)
        if new == load.url:
            return text
        value = re.compile(rf"""((?<![\w-]){load.attribute}\s*=\s*)(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.I)
        return _SRI.sub("", value.sub(lambda m: f'{m[1]}"{new}"', text, count=1))


def rewrite_page(html: str, depth: int) -> Rewritten:
    """Point everything a page loads at the site's local copies.

    Args:
        html: The page as GX wrote it.
        depth: How many folders below the site's root the page is (0 for index.html).

    Returns:
        The page loading only local files (the chart libraries dropped when it draws no chart), and the
        off-machine references it did not know, now ``about:invalid``.
    """
    rewriter = _Rewriter("../" * depth)
    charts = CHARTS_CALL in html
    tags: dict[int, list[Load]] = {}
    for load in element_loads(html):
        tags.setdefault(load.start, []).append(load)
    pieces, done = [], 0
    for start, loads in tags.items():
        end = start + len(loads[0].tag_text)
        pieces.append(rewriter.css(html[done:start]))
        if not charts and loads[0].tag == "script" and loads[0].url in CHART_LIBRARIES:
            end = _after_closing_script(html, end)
        else:
            pieces.append(rewriter.css(functools.reduce(rewriter.tag, loads, loads[0].tag_text)))
        done = end
    pieces.append(rewriter.css(html[done:]))
    return Rewritten("".join(pieces), tuple(rewriter.unknown))


def _after_closing_script(html: str, tag_end: int) -> int:
    close = re.compile(r"\s*</script\s*>[ \t]*\n?", re.IGNORECASE).match(html, tag_end)
    return close.end() if close else tag_end


def rewrite_css(text: str, depth: int) -> Rewritten:
    """Point a stylesheet's ``url()`` and ``@import`` at local copies; see ``rewrite_page``."""
    rewriter = _Rewriter("../" * depth)
    return Rewritten(rewriter.css(text), tuple(rewriter.unknown))


def make_offline(site: Path) -> tuple[str, ...]:
    """Make a built Data Docs site load nothing from off the machine, and keep only what it loads.

    Rewrites every page and stylesheet, copies the vendored packages the pages load into
    ``static/vendor/``, and deletes the files of ``static/`` that no page loads (GX copies ~4 MB of
    fonts and animations the pages never show).

    Args:
        site: The Data Docs site's folder (its ``index.html`` at the top).

    Returns:
        The off-machine references the rewrite did not know (each replaced by ``about:invalid``).
    """
    unknown: list[str] = []
    loaded: set[str] = set()
    for path in _files(site, "*.html", "*.css"):
        relative = path.relative_to(site).as_posix()
        depth = relative.count("/")
        text = path.read_text(encoding="utf-8")
        done = rewrite_page(text, depth) if path.suffix == ".html" else rewrite_css(text, depth)
        path.write_text(done.text, encoding="utf-8")
        unknown += done.unknown
        if path.suffix == ".html":
            loaded |= set(_resolved(posixpath.dirname(relative), page_references(done.text)))
    shutil.rmtree(site / VENDOR, ignore_errors=True)  # a retried run's site may hold another set
    _copy_vendored(site, loaded)
    _prune(site / STATIC, site, loaded)
    return tuple(dict.fromkeys(unknown))


def _files(site: Path, *patterns: str) -> Iterator[Path]:
    vendor = site / VENDOR
    for pattern in patterns:
        yield from (path for path in site.rglob(pattern) if not path.is_relative_to(vendor))


def _resolved(folder: str, references: Iterable[str]) -> Iterator[str]:
    for url in references:
        parts = urlsplit(url)
        if parts.path and not off_machine(url):
            yield posixpath.normpath(posixpath.join(folder, parts.path))


def _copy_vendored(site: Path, loaded: set[str]) -> None:
    packages = {path.split("/")[2] for path in loaded if path.startswith(f"{VENDOR}/")}
    with resources.as_file(resources.files(__package__).joinpath(ASSETS)) as assets:
        for package in sorted(packages):
            shutil.copytree(assets / package, site / VENDOR / package, dirs_exist_ok=True)


def _prune(static: Path, site: Path, loaded: set[str]) -> None:
    vendor = site / VENDOR
    for path in sorted(static.rglob("*"), reverse=True):
        if path.is_relative_to(vendor):
            continue
        if path.is_file() and path.relative_to(site).as_posix() not in loaded:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
