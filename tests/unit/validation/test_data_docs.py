from __future__ import annotations

from importlib import resources

import pytest

from classxpm.validation.data_docs import (
    ASSETS,
    NOWHERE,
    VENDORED,
    local_copy,
    off_machine,
    page_references,
    rewrite_css,
    rewrite_page,
)

JQUERY = "https://code.jquery.com/jquery-3.7.1.min.js"
POPPER = (
    '<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" '
    'integrity="sha384-ApNbgh9B" crossorigin="anonymous"></script>'
)
VEGA = '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n'
LOGO = (
    '<img\n  class="NO-CACHE"\n  src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/'
    'logo-long.png?d=20260601T000000Z"\n  alt="Great Expectations"\n/>'
)
DARK_LOGO = "url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png')"


def assets():
    return resources.files("classxpm.validation").joinpath(ASSETS)


@pytest.mark.parametrize(
    ("url", "leaves"),
    [
        ("https://cdn.example/x.js", True),
        ("http://cdn.example/x.js", True),
        ("//cdn.example/x.js", True),
        ("ftp://host/x", True),
        ("file:///etc/passwd", True),
        ("static/images/favicon.ico", False),
        ("../../static/vendor/a.css", False),
        ("data:image/png;base64,AAAA", False),
        ("about:invalid", False),
        ("#section-1", False),
    ],
)
def test_off_machine_means_any_address_with_a_host_or_a_scheme_that_fetches(url, leaves):
    assert off_machine(url) is leaves


def test_every_vendored_copy_is_in_the_package_and_named_in_its_readme():
    readme = assets().joinpath("README.md").read_text(encoding="utf-8")
    for copy in set(VENDORED.values()):
        assert assets().joinpath(copy).is_file(), copy
        assert copy.split("/")[0] in readme, copy


def test_a_cdn_script_at_depth_four_loads_the_vendored_copy_without_cross_origin_checks():
    page = rewrite_page(f'<head><script src="{JQUERY}"></script>{POPPER}</head>', depth=4)
    assert page.unknown == ()
    assert page.text == (
        '<head><script src="../../../../static/vendor/jquery-3.7.1/dist/jquery.min.js"></script>'
        '<script src="../../../../static/vendor/popper.js-1.12.9/dist/umd/popper.min.js"></script></head>'
    )


def test_gx_s_logo_image_and_dark_mode_background_load_gx_s_own_copy():
    page = rewrite_page(f"<style>.navbar-brand a {{background: {DARK_LOGO}}}</style>{LOGO}", depth=1)
    assert "url('../static/images/logo-long.png')" in page.text
    assert 'src="../static/images/logo-long.png"\n  alt="Great Expectations"' in page.text
    assert page_references(page.text) == ["../static/images/logo-long.png", "../static/images/logo-long.png"]


def test_chart_libraries_stay_only_on_pages_that_draw_a_chart():
    plain = rewrite_page(f"<head>{VEGA}<script src='{JQUERY}'></script></head>", depth=0)
    assert plain.text == '<head><script src="static/vendor/jquery-3.7.1/dist/jquery.min.js"></script></head>'
    chart = rewrite_page(f"<head>{VEGA}</head><script>vegaEmbed('#c', spec)</script>", depth=0)
    assert 'src="static/vendor/vega-5.33.1/build/vega.min.js"' in chart.text


def test_an_unknown_address_a_page_loads_is_neutralised_and_reported_but_links_stay():
    html = (
        '<link rel="stylesheet" href="https://new.cdn.example/theme.css">'
        '<img src="//pics.example/a.png" srcset="https://pics.example/a2.png 2x">'
        '<div style="background: url(https://pics.example/b.png)"></div>'
        '<a href="https://greatexpectations.io">Great Expectations</a>'
    )
    page = rewrite_page(html, depth=0)
    assert page.unknown == (
        "https://new.cdn.example/theme.css",
        "//pics.example/a.png",
        "https://pics.example/a2.png 2x",
        "https://pics.example/b.png",
    )
    assert [off_machine(url) for url in page_references(page.text)] == [False] * 4
    assert '<a href="https://greatexpectations.io">' in page.text
    assert page.text.count(NOWHERE) == 4


def test_gx_s_misplaced_static_references_are_anchored_at_the_site_s_root():
    page = rewrite_page('<link rel="shortcut icon" href="../../../static/images/favicon.ico"/>', depth=4)
    assert page.text == '<link rel="shortcut icon" href="../../../../static/images/favicon.ico"/>'


def test_rewriting_is_idempotent_and_leaves_local_pages_alone():
    once = rewrite_page(f'<script src="{JQUERY}"></script>{LOGO}', depth=2).text
    assert rewrite_page(once, depth=2).text == once
    local = '<script src="app.js" data-src="https://cdn.example/x.js"></script><a href="page.html">next</a>'
    local += "<img src='a.png?x=1&amp;y=\"2\"' integrity='sha384-kept'>"
    assert rewrite_page(local, depth=0).text == local


def test_a_stylesheet_s_imports_and_urls_are_rewritten_relative_to_it():
    sheet = rewrite_css(f'@import "https://cdn.example/x.css";\n.a {{background: {DARK_LOGO}}}', depth=2)
    logo = "url('../../static/images/logo-long.png')"
    assert sheet.text == f'@import "about:invalid";\n.a {{background: {logo}}}'
    assert sheet.unknown == ("https://cdn.example/x.css",)


def test_a_cdn_address_is_known_whatever_its_query():
    assert local_copy(f"{JQUERY}?v=1") == "static/vendor/jquery-3.7.1/dist/jquery.min.js"
    assert local_copy("https://code.jquery.com/jquery-3.7.0.min.js") is None


def test_only_the_loading_attribute_itself_is_rewritten():
    page = rewrite_page(f'<script data-src="keep.js" src="{JQUERY}"></script>', depth=0)
    local = "static/vendor/jquery-3.7.1/dist/jquery.min.js"
    assert page.text == f'<script data-src="keep.js" src="{local}"></script>'
