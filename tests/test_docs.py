"""The documentation site: built once per session (warnings are errors), complete, and working
in a real browser (headless Chromium over loopback HTTP)."""

import contextlib
import functools
import http.server
import importlib.util
import io
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import keras_resnet
from keras_resnet.registry import list_models, model_info

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--window-size=1280,1400"]


def _load_generator():
    spec = importlib.util.spec_from_file_location("build_docs", ROOT / "scripts" / "build_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_docs = _load_generator()


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


update_tables = _load_script("update_readme_tables")


def test_guides_are_the_docs_pages_and_ask_only_for_known_tables():
    assert "index" in build_docs.GUIDES and "speed" in build_docs.GUIDES
    assert "README" not in build_docs.GUIDES  # docs/README.md describes the folder
    asked = set()
    for page in build_docs.GUIDES:
        text = (ROOT / "docs" / f"{page}.md").read_text()
        asked.update(build_docs.PLACEHOLDER.findall(text))
        filled = build_docs.guide_page(text, page)
        assert "<!-- generated:" not in filled, page
    assert asked == set(build_docs.GENERATED)
    with pytest.raises(SystemExit, match="unknown table 'nope'"):
        build_docs.guide_page("<!-- generated: nope -->\n", "x")


def test_layout_names_every_module():
    """docs/layout.md's tree (two spaces per level) lists exactly the package's modules."""
    text = (ROOT / "docs" / "layout.md").read_text()
    tree = text.split("```text\n", 1)[1].split("```", 1)[0]
    listed, folders = set(), []
    for line in tree.splitlines():
        match = re.match(r"( *)(\S+)", line)
        if not match or len(match.group(1)) % 2 or not match.group(2).endswith(("/", ".py")):
            continue  # a description's continuation line
        level = len(match.group(1)) // 2
        folders = folders[:level]
        if match.group(2).endswith("/"):
            folders.append(match.group(2))
        elif folders and folders[0] == "keras_resnet/":
            listed.add("".join(folders) + match.group(2))
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "keras_resnet").rglob("*.py")}
    assert "keras_resnet/training/preemption.py" in listed
    assert listed == modules, (sorted(modules - listed), sorted(listed - modules))


def test_pretrained_tables_list_every_checkpoint_once_with_its_figures():
    text = build_docs.pretrained_tables()
    seen = []
    for section in text.split("\n### ")[1:]:
        builder = section.splitlines()[0]
        name = next(n for n in list_models() if model_info(n).builder_name == builder)
        accuracy = section.split("<details>")[0]
        for line in accuracy.splitlines():
            match = re.match(r'\| \[?`"([\w]+)"`', line)
            if not match:
                continue
            row = keras_resnet.find_pretrained(name, match.group(1))
            cells = [c.strip() for c in line.strip("|").split("|")]
            dash = ["-" if v is None else str(v) for v in (row.top1, row.top5)]
            assert cells[1:5] == dash + [str(row.eval_size), str(row.num_classes or
                                                                 "none (headless)")], line
            assert cells[5] == (row.license or "not stated"), line
            assert (row.hub_repo or "") in cells[0]
            seen.append(row)
    assert sorted(seen, key=lambda r: r.name) == sorted(keras_resnet.list_pretrained(),
                                                        key=lambda r: r.name)


def test_cli_prints_the_library_markdown_table():
    from keras_resnet import cli
    from keras_resnet.report import pretrained_markdown
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["list", "--pretrained", "--markdown"]) == 0
    assert out.getvalue() == pretrained_markdown()
    for row in keras_resnet.list_pretrained():
        top1, top5 = ("-" if v is None else v for v in (row.top1, row.top5))
        assert f"`{row.tag}` | {top1} | {top5} | {row.eval_size} |" in out.getvalue()


def test_speed_page_results_are_fresh():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert update_tables.main(["--check"]) == 0, \
            "docs/speed.md is stale: run `.venv/bin/python scripts/update_readme_tables.py`"


def test_replace_section_needs_both_markers_in_order():
    start, end = update_tables.START, update_tables.END
    text = f"a\n{start}\nold\n{end}\nb\n"
    assert update_tables.replace_section(text, "new\n") == f"a\n{start}\nnew\n{end}\nb\n"
    for broken in ("no markers", f"{end}\n{start}\n", text + end):
        with pytest.raises(ValueError, match="markers"):
            update_tables.replace_section(broken, "x")


def test_a_warning_fails_the_build(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text("# Home\n\nA [broken link](missing.md).\n")
    assert build_docs.sphinx(src, tmp_path / "html", tmp_path / "doctrees") != 0
    (src / "index.md").write_text("# Home\n\nNo link.\n")
    assert build_docs.sphinx(src, tmp_path / "html", tmp_path / "doctrees") == 0


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once (scripts/build_docs.py, as scripts/docs.sh runs it); its html dir."""
    out = tmp_path_factory.mktemp("docs")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_docs.py"),
                             "--out", str(out)], capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "html"


@pytest.mark.slow
def test_build_succeeds_with_warnings_as_errors(site):
    assert (site / "index.html").is_file()
    assert '"-W"' in (ROOT / "scripts" / "build_docs.py").read_text()


@pytest.mark.slow
def test_every_model_has_its_page_with_its_diagram(site):
    for name in list_models():
        page = (site / "models" / f"{name}.html").read_text()
        assert f'src="../_images/{name}.png"' in page, name
        built = (site / "_images" / f"{name}.png").read_bytes()
        assert built == (ROOT / "plots" / f"{name}.png").read_bytes(), name
        info = model_info(name)
        assert f"{info.params:,}" in page and f"{info.macs / 1e9:.3f}" in page, name
        for row in keras_resnet.list_pretrained(name):
            top1, top5 = ("-" if v is None else v for v in (row.top1, row.top5))
            assert f"{top1}" in page and f"{top5}" in page, (name, row.tag)
        source = (site.parent / "src" / "models" / f"{name}.md").read_text()
        for code in (f"keras_resnet.{info.builder_name}(", "keras_resnet.freeze(",
                     "keras_resnet.backbone(", "weights="):
            assert code in source, (name, code)


@pytest.mark.slow
def test_model_index_is_ordered_by_family_and_depth(site):
    page = (site / "models" / "index.html").read_text()
    positions = [page.index(f'href="{name}.html"') for name in build_docs.ordered_models()]
    assert positions == sorted(positions)
    assert set(build_docs.ordered_models()) == set(list_models())


@pytest.mark.slow
def test_every_public_name_is_in_the_api_reference(site):
    page = (site / "api.html").read_text()
    missing = [n for n in keras_resnet.__all__ if f'id="keras_resnet.{n}"' not in page]
    assert not missing


@pytest.mark.slow
def test_cli_reference_and_guides_and_notebooks(site):
    from keras_resnet.cli import build_parser
    cli = (site / "cli.html").read_text()
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    for command in sub.choices:
        assert f"keras-resnet {command}" in cli, command
    for page in build_docs.GUIDES:
        assert (site / f"{page}.html").is_file(), page
    assert "keras_resnet ResNet50, BN folded" in (site / "speed.html").read_text()
    for notebook in build_docs.NOTEBOOKS:
        html = (site / "notebooks" / f"{notebook.stem}.html").read_text()
        assert "cell_output" in html, notebook.name


@pytest.mark.slow
def test_landing_page_has_an_example_and_the_model_table(site):
    page = (site / "index.html").read_text()
    assert "highlight-python" in page and '<span class="n">ResNet50</span>' in page
    table = page[page.index("<table"):page.index("</table>")]
    positions = [table.index(f'href="models/{name}.html"') for name in build_docs.ordered_models()]
    assert positions == sorted(positions)


@pytest.mark.slow
def test_speed_page_shows_chart_and_results_before_the_method(site):
    page = (site / "speed.html").read_text()
    chart, table, method = (page.index("speed.png"), page.index("<table"),
                            page.index('id="method"'))
    assert chart < table < method


@pytest.mark.slow
def test_model_pages_keep_checkpoint_details_on_demand(site):
    for name in list_models():
        page = (site / "models" / f"{name}.html").read_text()
        if keras_resnet.list_pretrained(name):
            details = page[page.index("<details>"):page.index("</details>")]
            for row in keras_resnet.list_pretrained(name):
                assert f"&quot;{row.tag}&quot;" in details, (name, row.tag)


# ----------------------------------------------------------------------------- in a browser

@pytest.fixture()
def server(site):
    """The built site on a loopback HTTP server; yields (base URL, [(path, status)])."""
    statuses = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            statuses.append((self.path, int(code)))

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", statuses
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture()
def browser(tmp_path):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/setup.sh test installs "
                    "them with apt-get; they could not be installed here)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


# The pages a reader sees first, screenshot (whole page) into the test's tmp dir.
SCREENSHOTS = {"index.html": "landing.png", "models/resnet50.html": "model-resnet50.png",
               "speed.html": "speed.png"}
# Each table of the article wider than the article's content area, or scrolling sideways in
# its wrapper (furo puts a table in a div that scrolls rather than runs off the page).
OVERFLOWING_TABLES = """
const article = document.querySelector('article') || document.querySelector('main');
return Array.from(article.querySelectorAll('table')).filter(t =>
    t.scrollWidth > article.clientWidth + 1
    || t.parentElement.scrollWidth > t.parentElement.clientWidth + 1
).map(t => [t.scrollWidth, article.clientWidth, t.rows[0].innerText.slice(0, 80)]);
"""


def _screenshot(browser, path):
    """The whole page: the window made as tall as the page (at most 8000 px), then restored."""
    width, height = browser.get_window_size().values()
    full = browser.execute_script("return document.documentElement.scrollHeight;")
    browser.set_window_size(width, min(full, 8000))
    try:
        assert browser.save_screenshot(str(path)) and path.stat().st_size > 0
    finally:
        browser.set_window_size(width, height)


@pytest.mark.slow
def test_site_works_in_headless_chromium(site, server, browser, tmp_path):
    base, statuses = server
    checked = {}
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for page in ("index.html", "models/index.html", "models/resnet50.html", "speed.html"):
        browser.get(base + page)
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.src, i.complete, i.naturalWidth]);")
        for src, complete, width in images:
            assert complete and width > 0, (page, src)
        if page == "models/resnet50.html":
            assert any(src.endswith("_images/resnet50.png") and width > 0
                       for src, _, width in images)
        if page == "speed.html":
            assert any(src.endswith("_images/speed.png") and width > 0 for src, _, width in images)
        assert not browser.execute_script(OVERFLOWING_TABLES), page
        if page in SCREENSHOTS:
            _screenshot(browser, shots / SCREENSHOTS[page])
        hrefs = browser.execute_script(
            "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);")
        same_site = {urllib.parse.urldefrag(h)[0] for h in hrefs if h.startswith(base)}
        assert same_site, page
        for url in same_site - set(checked):
            checked[url] = _status(url)
        broken = sorted(url for url in same_site if checked[url] != 200)
        assert not broken, (page, broken)
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, (page, errors)
    assert not [s for s in statuses if s[1] >= 400], statuses
    print(f"screenshots: {shots}")


@pytest.mark.slow
def test_no_table_is_wider_than_the_article(site, server, browser):
    """Every guide, the model index and the model pages with the most checkpoints; the check
    itself flags a table made too wide."""
    base, _ = server
    most = sorted(list_models(), key=lambda n: -len(keras_resnet.list_pretrained(n)))[:2]
    pages = ([f"{page}.html" for page in build_docs.GUIDES] + ["models/index.html"]
             + [f"models/{name}.html" for name in most])
    for page in pages:
        browser.get(base + page)
        assert not browser.execute_script(OVERFLOWING_TABLES), page
    browser.execute_script(
        "const t = document.querySelector('article table');"
        "t.rows[0].cells[0].innerHTML = '<span style=\"white-space: nowrap\">' + "
        "'x'.repeat(400) + '</span>';")
    assert browser.execute_script(OVERFLOWING_TABLES)
