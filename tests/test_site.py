"""``memhotplug-workbook html``: the static site, checked without a browser.

One site is built per module (every chapter executed, the npm tarballs from the download cache or
the registry) and inspected as files: the index links every chapter, every script, style sheet,
image and font is a local file of the site, the JavaScript is there and verified, the widget state
is embedded, and chapter 05's page map is stored in its final state (memory32 with 512 self-hosted
pfns), not as first displayed.  The browser check is tests/browser/test_site_offline.py.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat
import pytest

from workbook import cli
from workbook.teaching import site, site_assets

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CDN_HOSTS = ("cdnjs.cloudflare.com", "unpkg.com", "cdn.jsdelivr.net", "cdn.bokeh.org", "fonts.googleapis.com")


class _Page(HTMLParser):
    """Anchors, loaded URLs (script/link/img/...), script bodies by type and ``style`` text of a page."""

    LOADS = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
             ("embed", "src"), ("object", "data"), ("video", "src"), ("audio", "src")}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, str]] = []
        self.loads: list[str] = []
        self.scripts: list[tuple[str, str]] = []       # (type, body)
        self.styles: list[str] = []
        self._tag: tuple[str, dict[str, str | None]] | None = None
        self._text: list[str] = []
        self._href: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        for name, value in attrs:
            if value is not None and (tag, name) in self.LOADS:
                self.loads.append(value)
            if name == "style" and value:
                self.styles.append(value)
        if tag == "a" and attr.get("href"):
            self._href, self._text = attr["href"], []
        if tag in ("script", "style"):
            self._tag, self._text = (tag, attr), []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.anchors.append((self._href, "".join(self._text).strip()))
            self._href = None
        elif self._tag is not None and tag == self._tag[0]:
            body = "".join(self._text)
            if tag == "script":
                self.scripts.append((self._tag[1].get("type") or "text/javascript", body))
            else:
                self.styles.append(body)
            self._tag = None


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or (not parts.scheme and not parts.netloc)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of every chapter, built once through the command line (chapters executed)."""
    out = tmp_path_factory.mktemp("site") / "site"
    assert cli.main(["html", str(out), "--chapters", str(ROOT / "chapters"), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def pages(built: Path) -> dict[str, str]:
    """Chapter stem -> the text of its page."""
    return {p.stem: (built / f"{p.stem}.html").read_text(encoding="utf-8") for p in CHAPTERS}


def _widget_state(page: str) -> dict[str, Any]:
    bodies = [body for kind, body in _Page(page).scripts if kind == WIDGET_STATE]
    assert len(bodies) == 1
    return json.loads(bodies[0])["state"]


# --- the index ----------------------------------------------------------------------------------

def test_index_links_every_chapter_with_its_title(built: Path) -> None:
    index = _Page((built / "index.html").read_text(encoding="utf-8"))
    links = dict(index.anchors)
    assert len(CHAPTERS) == 14 and CHAPTERS[-1].name == "99_glossary.ipynb"
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        heading = next(line for c in nb.cells if c.cell_type == "markdown"
                       for line in c.source.splitlines() if line.startswith("#"))
        assert links.get(f"{path.stem}.html") == heading.lstrip("#").strip(), path.name
        assert (built / f"{path.stem}.html").is_file()
    assert [href for href, _ in index.anchors] == [f"{p.stem}.html" for p in CHAPTERS]
    assert "<title>" in (built / "index.html").read_text()


def test_pages_link_back_to_the_index_and_their_neighbours(pages: dict[str, str]) -> None:
    stems = [p.stem for p in CHAPTERS]
    for i, stem in enumerate(stems):
        hrefs = {href for href, _ in _Page(pages[stem]).anchors}
        assert "index.html" in hrefs
        if i:
            assert f"{stems[i - 1]}.html" in hrefs
        if i + 1 < len(stems):
            assert f"{stems[i + 1]}.html" in hrefs


# --- nothing from the network -------------------------------------------------------------------

def test_every_script_style_and_image_is_a_file_of_the_site(built: Path, pages: dict[str, str]) -> None:
    for stem, text in pages.items():
        page = _Page(text)
        assert page.loads, stem
        for url in page.loads:
            assert _local(url), f"{stem} loads {url}"
            if not url.startswith(("data:", "blob:")):
                assert (built / urlsplit(url).path).is_file(), f"{stem}: {url} is missing"
        for css in page.styles:
            for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css) + re.findall(r"@import\s+['\"]([^'\"]+)", css):
                assert _local(url), f"{stem} style loads {url}"
        for kind, body in page.scripts:            # inline code: no CDN (prose may name one)
            if kind in ("text/javascript", "module"):
                assert not re.search(r"""(import\s*\(|src\s*=)\s*["']https?:""", body), stem
                assert not [host for host in CDN_HOSTS if host in body], stem
        assert site.external_references(text) == []


def test_prose_links_to_other_sites_stay_plain_anchors(pages: dict[str, str]) -> None:
    anchors = [href for text in pages.values() for href, _ in _Page(text).anchors]
    assert any(href.startswith("https://") for href in anchors)    # kernel.org, lore, ... in the text


def test_static_style_sheets_load_nothing_remote(built: Path) -> None:
    sheets = list((built / "static").rglob("*.css"))
    assert {p.name for p in sheets} >= {"index.css", "theme-light.css", "site.css"}
    for sheet in sheets:
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", sheet.read_text()):
            assert _local(url), f"{sheet.name}: {url}"


def test_no_mathjax_no_mermaid_no_inline_bokehjs(pages: dict[str, str]) -> None:
    for stem, text in pages.items():
        lowered = text.lower()
        assert "mathjax" not in lowered and "mermaid.esm" not in lowered, stem
        assert "application/vnd.bokehjs_load" not in text, stem
        assert len(text) < 1_000_000, f"{stem} inlines something big ({len(text)} bytes)"


# --- the JavaScript -----------------------------------------------------------------------------

def test_javascript_files_are_present(built: Path, pages: dict[str, str]) -> None:
    static = built / "static"
    bokeh_version = __import__("importlib.metadata").metadata.version("bokeh")
    require_js = (static / "requirejs" / "require.js").read_text()
    assert "RequireJS 2.3.8" in require_js
    embed = (static / "html-manager" / "embed-amd.js").read_text()
    assert 'define("@jupyter-widgets/html-manager"' in embed
    assert list((static / "html-manager").glob("*.woff2"))
    assert '"@bokeh/jupyter_bokeh"' in (static / "jupyter_bokeh" / "index.js").read_text()
    bokehjs = static / "bokeh" / f"bokeh-{bokeh_version}.min.js"
    assert bokehjs.stat().st_size > 500_000
    for stem, text in pages.items():
        loads = _Page(text).loads
        assert f"static/bokeh/bokeh-{bokeh_version}.min.js" in loads, stem
        assert "static/requirejs/require.js" in loads, stem
        assert "'static/html-manager/embed-amd.js'" in text, stem
        assert '"@bokeh/jupyter_bokeh": "static/jupyter_bokeh/index"' in text, stem
    sources = json.loads((static / "SOURCES.json").read_text())
    assert {p["name"]: p["version"] for p in sources["npm"]} == {
        "requirejs": "2.3.8", "@jupyter-widgets/html-manager": "1.0.15"}
    assert all(p["integrity"].startswith("sha512-") for p in sources["npm"])


def test_tarballs_are_cached_and_match_their_pins(built: Path) -> None:
    for pkg in site_assets.NPM_PACKAGES:
        data = (site_assets.cache_dir() / pkg.cache_name).read_bytes()
        digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
        assert pkg.integrity == f"sha512-{digest}"
        assert pkg.url.startswith("https://registry.npmjs.org/")


def test_js_dir_builds_without_network(tmp_path: Path, built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the network was used")

    monkeypatch.setattr(site_assets.urllib.request, "urlopen", offline)
    assets = site_assets.install_static(tmp_path / "static", js_dir=site_assets.cache_dir())
    assert {"requirejs/require.js", "html-manager/embed-amd.js", "jupyter_bokeh/index.js"} <= {a.path for a in assets}
    with pytest.raises(site_assets.JsAssetError, match="is missing"):
        site_assets.install_static(tmp_path / "static2", js_dir=tmp_path / "empty")


def test_a_tampered_tarball_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = site_assets.NPM_PACKAGES[0]
    js_dir = tmp_path / "js"
    js_dir.mkdir()
    good = site_assets.fetch_tarball(pkg)
    (js_dir / pkg.cache_name).write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(site_assets.JsAssetError, match="integrity"):
        site_assets.fetch_tarball(pkg, js_dir=js_dir)
    # a corrupt cache entry is fetched again (here: from a fake registry) and replaced
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / pkg.cache_name).write_bytes(b"garbage")

    class Reply:
        def __enter__(self) -> Reply:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return good

    monkeypatch.setattr(site_assets.urllib.request, "urlopen", lambda *a, **k: Reply())
    assert site_assets.fetch_tarball(pkg, cache=cache) == good
    assert (cache / pkg.cache_name).read_bytes() == good
    with tarfile.open(cache / pkg.cache_name) as tar:
        assert "package/require.js" in tar.getnames()


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert site_assets.cache_dir() == tmp_path / "memhotplug-workbook" / "npm"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert site_assets.cache_dir() == Path.home() / ".cache" / "memhotplug-workbook" / "npm"


# --- the widgets --------------------------------------------------------------------------------

def test_widget_state_is_embedded_for_every_widget_shown(pages: dict[str, str]) -> None:
    for stem, text in pages.items():
        page = _Page(text)
        views = [json.loads(body)["model_id"] for kind, body in page.scripts if kind == WIDGET_VIEW]
        assert views, f"{stem} shows no widget"
        state = _widget_state(text)
        for model_id in views:
            assert model_id in state, f"{stem}: widget {model_id} has no stored state"


def _bokeh_titles(state: dict[str, Any]) -> list[str]:
    """The Title texts of every BokehModel's stored figure."""
    titles: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") == "Title" and isinstance(node.get("attributes"), dict):
                titles.append(str(node["attributes"].get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for model in state.values():
        if model["model_name"] == "BokehModel":
            bundle = model["state"]["render_bundle"]
            walk(json.loads(bundle) if isinstance(bundle, str) else bundle)
    return titles


def test_chapter_05_page_map_is_stored_in_its_final_state(pages: dict[str, str]) -> None:
    """After the chapter clicks device_add and echo > state, the stored figure shows memory32, not memory0."""
    state = _widget_state(pages["05_memmap_on_memory"])
    stats = [m["state"]["value"] for m in state.values()
             if m["model_name"] == "HTMLModel" and "pagemap-stats" in str(m["state"].get("value", ""))]
    assert any("data-block='32'" in v and "data-selfhosted='512'" in v for v in stats)
    titles = _bokeh_titles(state)
    assert any(t.startswith("memory32: node 1, online, Movable") for t in titles), titles
    assert not any(t.startswith("memory0:") for t in titles), titles


def test_escaped_pipes_in_table_code_render_as_in_lab(pages: dict[str, str]) -> None:
    text = pages["05_memmap_on_memory"]
    assert "<code>RESERVED|OWNER_PRIVATE</code>" in text or "<code>RESERVED&#124;OWNER_PRIVATE</code>" in text
    assert "RESERVED\\|OWNER_PRIVATE" not in text


def test_solutions_are_folded(pages: dict[str, str]) -> None:
    path = ROOT / "chapters" / "05_memmap_on_memory.ipynb"
    solutions = [c for c in nbformat.read(path, as_version=4).cells if "solution" in c.metadata.get("tags", [])]
    assert solutions
    assert pages[path.stem].count('<details class="site-solution">') == len(solutions)


def test_every_figure_has_a_text_summary_and_the_site_script_makes_it_alt_text(built: Path,
                                                                              pages: dict[str, str]) -> None:
    """Each figure's summary is stored with the widgets; static/site.js gives it to the plot as aria-label."""
    script = (built / "static" / "site.js").read_text()
    assert "figure-summary" in script and "aria-label" in script and 'role", "img"' in script
    for stem, text in pages.items():
        assert re.search(r'<script[^>]*src="static/site.js"', text), stem
    state = _widget_state(pages["05_memmap_on_memory"])
    summaries = [m["state"].get("value", "") for m in state.values()
                 if "figure-summary" in str(m["state"].get("value", ""))]
    assert any("Page map of memory32" in v and "self-hosted memmap, hatched" in v for v in summaries), summaries
    assert any("Block map" in v for v in summaries) and any("Zone counters" in v for v in summaries)


# --- the output folder --------------------------------------------------------------------------

def test_marker_and_rebuild_rules(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = json.loads((built / site.MARKER).read_text())
    assert marker["generator"] == "memhotplug-workbook html" and marker["executed"] is True
    assert set(marker["files"]) == {p.name for p in built.iterdir()}
    assert sorted(site._check_out(built, force=False)) == sorted(marker["files"])   # a previous site: rebuild
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert site.main([str(foreign), "--no-execute", "-q"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert site._check_out(foreign, force=True) == []
    assert site._check_out(tmp_path / "missing", force=False) == []


def test_install_replaces_only_the_previous_sites_files(tmp_path: Path) -> None:
    out, staging = tmp_path / "out", tmp_path / "staging"
    (out / "static").mkdir(parents=True)
    (out / "static" / "old.js").write_text("old")
    (out / "gone.html").write_text("old page")
    (out / "keep.txt").write_text("not ours")
    (staging / "static").mkdir(parents=True)
    (staging / "static" / "new.js").write_text("new")
    (staging / "index.html").write_text("index")
    files = site._install(staging, out, ["static", "gone.html"])
    assert files == ["index.html", "static"]
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "keep.txt", "static"]
    assert [p.name for p in (out / "static").iterdir()] == ["new.js"]


def test_external_references_finds_what_a_browser_would_fetch() -> None:
    page = """<html><head><script src="https://cdn.example/x.js"></script><script src="static/a.js"></script>
    <link rel="stylesheet" href="//fonts.example/css"><link rel="canonical" href="https://example.org/">
    <style>@import "https://x.example/a.css"; .a { background: url(data:image/png;base64,AA) }</style>
    <script type="module">const m = await import("https://cdn.example/m.mjs");</script></head>
    <body><a href="https://kernel.org/">kernel.org</a><img src="img/p.png"><div style="background:url('http://i.example/b.png')"></div>
    </body></html>"""
    assert site.external_references(page) == ["https://cdn.example/x.js", "//fonts.example/css",
                                              "https://x.example/a.css", "https://cdn.example/m.mjs",
                                              "http://i.example/b.png"]


def test_chapter_title_is_the_first_heading() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("intro\n\n## 07 · `Offline` and **migration** ##"),
                                         nbformat.v4.new_markdown_cell("# later")])
    assert site.chapter_title(nb, "x") == "07 · Offline and migration"
    assert site.chapter_title(nbformat.v4.new_notebook(), "fallback") == "fallback"


def test_importing_the_site_module_loads_no_notebook_or_plot_library() -> None:
    code = ("import sys, workbook, workbook.cli, workbook.teaching.site; "
            "bad = [m for m in ('nbformat', 'nbconvert', 'nbclient', 'bokeh', 'ipywidgets', 'jupyter_bokeh') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
