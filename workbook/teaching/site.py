"""``memhotplug-workbook html OUT_DIR``: a static HTML site of every chapter that works with no network.

    memhotplug-workbook html site/                  # execute every chapter, write site/
    memhotplug-workbook html site/ --no-execute     # the committed outputs as they are (faster)
    memhotplug-workbook html site/ --js-dir DIR     # no download: the pinned npm tarballs are in DIR

The site is ``index.html`` (one line per chapter, its first heading, linking to its page), one
``NN_name.html`` per ``chapters/NN_*.ipynb`` (glossary included) with its outputs and the stored
state of its widgets, and ``static/`` with every script, font and style sheet the pages load.
Nothing is loaded from anywhere else: no CDN, no MathJax, no mermaid (the chapters have no LaTeX
math or diagrams; ``$`` in a chapter would stay plain text), so the site works from a USB stick
served by ``python -m http.server`` in a classroom without internet.  The pages have no kernel:
widgets show their stored state, and buttons and sliders do nothing.

**Executed afresh, by default.**  Each chapter runs top to bottom in its own kernel (nbclient,
``store_widget_state=True``, working directory = the chapters folder, ``--jobs`` at a time).  That
is needed for the bokeh figures: a jupyter_bokeh ``BokehModel`` stores the figure as it was first
displayed, and every later change (chapter 05's cell that clicks ``device_add`` and
``echo > state`` turns the page map's block from boot memory into memory32 with 512 self-hosted
pfns) is sent as a message that is not part of the widget state.  So after the last cell, one more
cell (run, then dropped) re-serialises every live ``BokehModel``'s figure into its
``render_bundle``, and the stored state holds the final figure, consistent with the ipywidgets
around it.  The committed outputs give the same text (CI checks them with nbval), and
tools/run_chapters.py, which writes them, runs the same refresh cell (:data:`REFRESH_BOKEH`), so
``--no-execute`` shows the final figures too, as of the last regeneration.

The BokehJS load cell's output (1.3 MB of inline BokehJS per page) is dropped and every page
loads ``static/bokeh/bokeh-<version>.min.js`` instead, copied from the installed bokeh.  The
other scripts come from :mod:`workbook.teaching.site_assets` (pinned npm tarballs, verified and
cached).  nbconvert's lab template is used with a few blocks replaced (scripts, style sheets
linked from ``static/`` instead of inlined in every page, a navigation bar, solutions folded in
``<details>``), then every page is checked: a script, style sheet, image or font that is not a
relative URL fails the build.

``OUT_DIR`` must be empty, missing, or a site this command wrote (it holds
``.memhotplug-workbook-site.json``), unless ``--force``.  The site is built in a temporary folder
beside ``OUT_DIR`` and moved in at the end, so a failed build leaves ``OUT_DIR`` as it was.
nbformat, nbclient and nbconvert come with JupyterLab and are imported when the command runs.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from workbook import __version__
from workbook.teaching.site_assets import JsAssetError, install_static

if TYPE_CHECKING:  # pragma: no cover
    import nbformat

__all__ = ["MARKER", "Page", "Site", "SiteError", "build_site", "chapter_title", "external_references", "main"]

CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
MARKER = ".memhotplug-workbook-site.json"
GENERATOR = "memhotplug-workbook html"
STATIC = "static"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BOKEHJS_LOAD = "application/vnd.bokehjs_load.v0+json"
SOLUTION_TAG = "solution"
_SKIP = {"__pycache__", ".ipynb_checkpoints"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)

#: require.js module ids -> files in static/ (no ".js").  jupyter_bokeh's widget module is loaded from
#: there.  The html-manager's modules are already defined by embed-amd.js; their paths only set their
#: ``module.uri``, whose folder webpack takes as the place of the fonts their CSS names.
AMD_PATHS = {
    "@bokeh/jupyter_bokeh": f"{STATIC}/jupyter_bokeh/index",
    **{f"@jupyter-widgets/{name}": f"{STATIC}/html-manager/{name.rsplit('/', 1)[-1]}"
       for name in ("base", "controls", "base7", "controls7", "html-manager", "html-manager/dist/libembed-amd")},
}

#: run after the last cell: store every live BokehModel's current figure in its render_bundle
REFRESH_BOKEH = '''\
def _memhotplug_site_refresh():
    import sys
    widgets = sys.modules.get("jupyter_bokeh.widgets")
    if widgets is None:
        return 0
    try:
        from ipywidgets.widgets.widget import _instances
    except ImportError:                      # older ipywidgets
        from ipywidgets import Widget
        _instances = Widget.widgets
    done = 0
    for w in list(_instances.values()):
        if isinstance(w, widgets.BokehModel) and w.comm is not None:
            w.render_bundle = w._model_to_traits(w._model)
            done += 1
    return done
print("bokeh figures refreshed:", _memhotplug_site_refresh())
del _memhotplug_site_refresh
'''

# The page template: nbconvert's lab template with the CDN scripts replaced by static/ ones.
_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}
<script src="{{ resources.site.bokehjs }}"></script>
<script src="{{ resources.site.requirejs }}" data-jupyter-widgets-cdn="{{ resources.site.no_cdn }}"></script>
<script>
require.config({paths: {{ resources.site.amd_paths }}});
window.__jupyter_widgets_assets_path__ = "{{ resources.site.widget_assets }}";
</script>
{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<link rel="stylesheet" href="{{ resources.site.css }}">
<script src="{{ resources.site.js }}" defer></script>{%- endblock html_head_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.site.nav_top }}
{%- endblock body_header -%}
{% block body_footer %}
{{ resources.site.nav_bottom }}
{{ super() }}
{% endblock body_footer %}
{% block input_group -%}
{%- if resources.site.solution_tag in cell.metadata.get('tags', []) -%}
<details class="site-solution"><summary>Solution (click to show the code)</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock input_group %}
{% block output_group -%}
{%- if resources.site.check_tag in cell.metadata.get('tags', []) -%}
<details class="site-check"><summary>Check (click to show the verdict)</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock output_group %}
"""

_SITE_CSS = """\
/* memhotplug-workbook static site */
/* JupyterLab's own shell sets the UI font on the body; widgets (HTML, labels, tables) inherit it */
body.jp-Notebook { font-family: var(--jp-ui-font-family); }
/* JupyterLab 4 gives every <pre> the code font and line height (.jp-ThemedContainer pre); nbconvert's
   output CSS lets a <pre> in a widget inherit the widget's UI font and 28px line instead */
.jp-OutputArea-output .widget-html-content pre { font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size); line-height: var(--jp-code-line-height); }
.site-nav { display: flex; gap: 1.5em; align-items: baseline; padding: 0.6em 1em; margin: 0 0 1em 0;
  border-bottom: 1px solid #ccc; font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px; }
.site-nav.bottom { border-top: 1px solid #ccc; border-bottom: none; margin: 2em 0 0 0; }
.site-nav .site-note { margin-left: auto; color: #666; font-size: 12px; }
details.site-solution > summary, details.site-check > summary { cursor: pointer; color: #555; padding: 0.2em 0 0.2em 1em;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; }
/* paper (memhotplug-workbook pdf): no navigation, figures not cut across pages */
@media print {
  .site-nav { display: none; }
  .jp-OutputArea-output, .widget-vbox, table { break-inside: avoid; }
  .jp-Cell { break-inside: avoid-page; }
}
"""

# Every figure's text summary (a widget under it, class figure-summary) becomes the figure's text
# alternative: role="img" and aria-label on the plot, aria-describedby to the summary.  Widgets render
# after the page loads, so a MutationObserver labels them as they appear.
_SITE_JS = """\
/* memhotplug-workbook static site: text alternatives for the figures */
(function () {
  var next = 0;
  function plotOf(summary) {
    var box = summary.closest(".widget-vbox") || summary.parentElement;
    while (box) {
      var hosts = Array.prototype.filter.call(box.querySelectorAll("*"), function (el) {
        return el.shadowRoot || el.tagName === "CANVAS" || /(^| )bk-/.test(el.className || "");
      });
      if (hosts.length) { return hosts[0]; }
      box = box.parentElement && box.parentElement.closest(".widget-vbox");
    }
    return null;
  }
  function label() {
    document.querySelectorAll(".figure-summary").forEach(function (summary) {
      var plot = plotOf(summary);
      var text = summary.textContent.replace(/^\\s*Figure:\\s*/, "");
      if (!plot || plot.getAttribute("aria-label") === text) { return; }
      if (!summary.id) { summary.id = "figure-summary-" + (next++); }
      plot.setAttribute("role", "img");
      plot.setAttribute("aria-label", text);
      plot.setAttribute("aria-describedby", summary.id);
    });
  }
  function start() {
    label();
    new MutationObserver(label).observe(document.body, {childList: true, subtree: true, characterData: true});
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
"""

_INDEX_CSS = """\
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; max-width: 52em;
  margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #222; }
h1 { margin-bottom: 0.2em; }
.subtitle { color: #555; margin-top: 0; }
ol.chapters { list-style: none; padding: 0; }
ol.chapters li { padding: 0.35em 0; border-bottom: 1px solid #eee; }
ol.chapters a { text-decoration: none; }
ol.chapters a:hover { text-decoration: underline; }
.note { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


class SiteError(RuntimeError):
    """The site cannot be built (bad output folder, a failing chapter, an external reference)."""


@dataclass(frozen=True)
class Page:
    """One chapter page of the site."""

    notebook: Path
    html: str          # file name in the site
    title: str
    executed: bool
    bokeh_refreshed: int
    seconds: float


@dataclass
class Site:
    """What :func:`build_site` wrote."""

    out: Path
    pages: list[Page]
    static_files: list[str]
    seconds: float
    files: list[str] = field(default_factory=list)   # top-level names in out/

    def size(self) -> int:
        """Bytes of every file of the site."""
        return sum(p.stat().st_size for name in self.files for p in _walk(self.out / name))


def _walk(path: Path) -> list[Path]:
    return [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]


# ----------------------------------------------------------------------------------------------
# chapters
def chapter_paths(chapters: Path) -> list[Path]:
    """The chapter notebooks ``NN_*.ipynb`` of ``chapters``, in order."""
    return sorted(chapters.glob(CHAPTER_GLOB))


def chapter_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The text of the first markdown heading of ``nb`` (markup removed), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        match = _HEADING.search(cell.source)
        if match:
            text = re.sub(r"[*_`]", "", match.group(1))
            return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).strip()
    return fallback


def _strip_bokehjs(nb: nbformat.NotebookNode) -> None:
    """Drop the outputs that load BokehJS inline; the pages load static/bokeh instead."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.outputs:
            cell.outputs = [o for o in cell.outputs if BOKEHJS_LOAD not in o.get("data", {})
                            and "BokehJS" not in str(o.get("data", {}).get("application/javascript", ""))[:4000]]


def _execute(paths: list[Path], jobs: int, timeout: int, kernel: str,
             log: Callable[[str], None]) -> dict[Path, tuple[Any, float, int]]:
    """Run every notebook (``jobs`` kernels at a time); notebook, seconds and refreshed figures per path."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    async def one(path: Path, gate: asyncio.Semaphore) -> tuple[Path, Any, float, int]:
        async with gate:
            start = time.monotonic()
            nb = nbformat.read(path, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(REFRESH_BOKEH))
            client = NotebookClient(nb, kernel_name=kernel, timeout=timeout, store_widget_state=True,
                                    record_timing=False, coalesce_streams=True,
                                    resources={"metadata": {"path": str(path.parent)}})
            # the kernel's own stderr (its "running over TCP" warning, or why it died) is shown on failure only
            with tempfile.TemporaryFile(mode="w+") as kernel_log:
                try:
                    await client.async_execute(stderr=kernel_log)
                except Exception as exc:
                    kernel_log.seek(0)
                    tail = kernel_log.read()[-2000:].strip()
                    what = "a cell failed" if isinstance(exc, CellExecutionError) else f"{type(exc).__name__}"
                    raise SiteError(f"{path.name}: {what} while executing it:\n{str(exc)[-3000:]}"
                                    + (f"\nkernel stderr:\n{tail}" if tail else "")) from exc
            extra = nb.cells.pop()
            text = "".join(o.get("text", "") for o in extra.outputs if o.get("output_type") == "stream")
            match = re.search(r"bokeh figures refreshed: (\d+)", text)
            if match is None:
                raise SiteError(f"{path.name}: the bokeh refresh cell printed {text!r}")
            seconds = time.monotonic() - start
            log(f"  executed {path.name} in {seconds:.1f} s ({match.group(1)} bokeh figures refreshed)")
            return path, nb, seconds, int(match.group(1))

    async def run_all() -> list[tuple[Path, Any, float, int]]:
        gate = asyncio.Semaphore(max(1, jobs))
        tasks = [asyncio.ensure_future(one(p, gate)) for p in paths]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    try:
        asyncio.get_running_loop()
    except RuntimeError:                      # the usual case: no event loop in this thread
        results = asyncio.run(run_all())
    else:                                     # called from async code (Jupyter, Playwright): own thread
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            results = pool.submit(asyncio.run, run_all()).result()
    return {path: (nb, seconds, n) for path, nb, seconds, n in results}


# ----------------------------------------------------------------------------------------------
# HTML
class _RefScanner(HTMLParser):
    """Collects every URL a browser would load by itself: scripts, style sheets, images, fonts, frames."""

    LOADS = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
             ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"), ("input", "src")}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._style = False
        self._module_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (tag, name) in self.LOADS:
                if tag == "link" and dict(attrs).get("rel", "") not in ("stylesheet", "icon", "preload",
                                                                       "modulepreload", "manifest"):
                    continue
                self.urls.append(value)
            if name == "style" and value:
                self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", value)
        self._style = tag == "style"
        self._module_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._style = self._module_script = False

    def handle_data(self, data: str) -> None:
        if self._style:
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)
            self.urls += re.findall(r"@import\s+['\"]([^'\"]+)", data)
        elif self._module_script:
            self.urls += re.findall(r"""\bimport\s*\(\s*["'](https?:[^"']+)""", data)


def _is_local(url: str) -> bool:
    """True for a relative URL, a fragment, or ``data:``/``blob:``; False for any URL with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme in ("data", "blob", "about"):
        return True
    return not parts.scheme and not parts.netloc


def external_references(page: str) -> list[str]:
    """URLs in ``page`` that a browser would fetch from another host (scripts, styles, images, fonts)."""
    scanner = _RefScanner()
    scanner.feed(page)
    scanner.close()
    return [url for url in scanner.urls if not _is_local(url)]


def _nav(pages: list[tuple[str, str]], index: int, where: str) -> str:
    """The navigation bar of page ``index``: the index, the previous and the next chapter."""
    parts = ['<a href="index.html">&#8962; All chapters</a>']
    if index > 0:
        parts.append(f'<a href="{pages[index - 1][0]}" rel="prev">&larr; {html.escape(pages[index - 1][1])}</a>')
    if index + 1 < len(pages):
        parts.append(f'<a href="{pages[index + 1][0]}" rel="next">{html.escape(pages[index + 1][1])} &rarr;</a>')
    note = ('<span class="site-note">static copy: the stored outputs and widget state, no kernel '
            '(run it with <code>memhotplug-workbook lab</code>)</span>') if where == "top" else ""
    return f'<nav class="site-nav {where}">{" ".join(parts)}{note}</nav>'


def _make_exporter(static_css: dict[str, str]) -> Any:
    """An nbconvert HTMLExporter (lab template + ours) that links the template's CSS from static/."""
    import jinja2
    from nbconvert import HTMLExporter

    class SiteExporter(HTMLExporter):
        """Links ``include_css`` style sheets from ``static/nbconvert/`` instead of inlining them."""

        def _init_resources(self, resources: dict[str, Any]) -> dict[str, Any]:
            resources = super()._init_resources(resources)
            env = self.environment

            def include_css(name: str) -> Any:
                import markupsafe

                target = f"{STATIC}/nbconvert/{Path(name).name}"
                if target not in static_css:
                    static_css[target] = env.loader.get_source(env, name)[0]
                return markupsafe.Markup(f'<link rel="stylesheet" href="{target}">')

            resources["include_css"] = include_css
            return resources

    exporter = SiteExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"site.html.j2": _TEMPLATE})])
    exporter.template_file = "site.html.j2"
    exporter.theme = "light"
    exporter.widget_renderer_url = f"{STATIC}/html-manager/embed-amd.js"
    exporter.require_js_url = f"{STATIC}/requirejs/require.js"
    return exporter


def _table_code_pipes(nb: nbformat.NotebookNode) -> None:
    """Write `` `a\\|b` `` in a markdown table row as ``<code>a&#124;b</code>``.

    In a GFM table ``\\|`` is a ``|`` even inside a code span (JupyterLab shows ``a|b``), but
    nbconvert's mistune keeps the backslash; the inline HTML renders the same in both.
    """
    def code(match: re.Match[str]) -> str:
        text = html.escape(match.group(1).replace("\\|", "|"), quote=False).replace("|", "&#124;")
        return f"<code>{text}</code>"

    for cell in nb.cells:
        if cell.cell_type == "markdown" and "\\|" in cell.source:
            cell.source = "\n".join(re.sub(r"`([^`\n]*\\\|[^`\n]*)`", code, line) if line.lstrip().startswith("|")
                                    else line for line in cell.source.split("\n"))


def _link_chapters(page: str, stems: set[str]) -> str:
    """``href="NN_name.ipynb#x"`` -> ``href="NN_name.html#x"`` for the site's own chapters."""
    def repl(match: re.Match[str]) -> str:
        stem = match.group(2)
        return f"{match.group(1)}{stem}.html" if stem in stems else match.group(0)
    return re.sub(r'(href="(?:\./)?)([^"/#?]+)\.ipynb', repl, page)


def _index_html(pages: list[Page], executed: bool) -> str:
    """The site's front page: the title and one line per chapter."""
    items = "\n".join(f'  <li><a href="{p.html}">{html.escape(p.title)}</a></li>' for p in pages)
    how = ("Every chapter was executed for this site" if executed
           else "These are the chapters' committed outputs")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>memhotplug-workbook: Linux memory hotplug, chapter by chapter</title>
<style>
{_INDEX_CSS}</style>
</head>
<body>
<h1>memhotplug-workbook</h1>
<p class="subtitle">A Jupyter workbook on Linux memory hotplug and memmap-on-memory, with a tested model.</p>
<ol class="chapters">
{items}
</ol>
<p class="note">A static copy of the workbook (version {html.escape(__version__)}): each page shows a chapter with
its outputs, and the plots and widgets in the state the chapter left them. There is no kernel behind these
pages, so buttons, sliders and exercises do nothing here; to run the chapters, install the workbook and start
<code>memhotplug-workbook lab</code>. {how}; every script and style sheet is served from this folder, so the
pages work without a network.</p>
</body>
</html>
"""


# ----------------------------------------------------------------------------------------------
# the output folder
def _previous_site(out: Path) -> list[str] | None:
    """The top-level files a previous build wrote into ``out`` (from its marker), or None if it is not a site."""
    marker = out / MARKER
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("generator") != GENERATOR:
        return None
    return [str(name) for name in data.get("files", []) if isinstance(name, str) and "/" not in name
            and name not in ("", ".", "..")]


def _check_out(out: Path, force: bool) -> list[str]:
    """Refuse a non-empty ``out`` that is no previous site (unless ``force``); the old site's files to remove."""
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return []
    previous = _previous_site(out)
    if previous is not None:
        return previous
    if not force:
        raise SiteError(f"{out} is not empty and holds no site written by this command ({MARKER} is missing); "
                        "nothing written (pick another folder, or pass --force to write into it anyway)")
    return []


def _install(staging: Path, out: Path, old: list[str]) -> list[str]:
    """Replace the previous site's files in ``out`` by the staged ones; the names now in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    new = sorted(p.name for p in staging.iterdir())
    for name in set(old) | set(new):
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    for name in new:
        os.replace(staging / name, out / name)
    return new


# ----------------------------------------------------------------------------------------------
def build_site(out: Path, chapters: Path | None = None, *, js_dir: Path | None = None, force: bool = False,
               execute: bool = True, jobs: int | None = None, timeout: int = 600, kernel: str = "python3",
               log: Callable[[str], None] = print) -> Site:
    """Build the site into ``out``; see the module docstring."""
    import nbformat

    start = time.monotonic()
    if chapters is None:
        from workbook.cli import find_chapters

        chapters = find_chapters(option="--chapters")
    chapters = chapters.resolve()
    paths = chapter_paths(chapters)
    if not paths:
        raise SiteError(f"no chapters ({CHAPTER_GLOB}) in {chapters}")
    out = out.resolve()
    old = _check_out(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        # 1. scripts first: without network or --js-dir this fails before any chapter runs
        assets = install_static(staging / STATIC, js_dir)
        static_files = sorted(a.path for a in assets)
        bokehjs = next(a.path for a in assets if a.path.startswith("bokeh/bokeh-"))
        log(f"static/: {len(static_files)} files (requirejs, html-manager, jupyter_bokeh, BokehJS)")

        # 2. the notebooks: executed (final bokeh figures) or as committed
        if execute:
            workers = jobs or min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                  else (os.cpu_count() or 1))
            log(f"executing {len(paths)} chapters, {workers} at a time ...")
            started = time.monotonic()
            ran = _execute(paths, workers, timeout, kernel, log)
            log(f"executed {len(paths)} chapters in {time.monotonic() - started:.1f} s")
        else:
            ran = {p: (nbformat.read(p, as_version=4), 0.0, 0) for p in paths}

        # 3. the pages
        started = time.monotonic()
        static_css: dict[str, str] = {f"{STATIC}/site.css": _SITE_CSS, f"{STATIC}/site.js": _SITE_JS}
        exporter = _make_exporter(static_css)
        titles = [(p.stem + ".html", chapter_title(ran[p][0], p.stem)) for p in paths]
        stems = {p.stem for p in paths}
        pages: list[Page] = []
        for i, path in enumerate(paths):
            nb, seconds, refreshed = ran[path]
            _strip_bokehjs(nb)
            _table_code_pipes(nb)
            nb.metadata["title"] = f"{titles[i][1]} · memhotplug-workbook"
            site_res = {"bokehjs": f"{STATIC}/{bokehjs}", "requirejs": f"{STATIC}/requirejs/require.js",
                        "amd_paths": json.dumps(AMD_PATHS),
                        "widget_assets": f"{STATIC}/html-manager/", "no_cdn": f"{STATIC}/no-cdn/",
                        "css": f"{STATIC}/site.css", "js": f"{STATIC}/site.js", "solution_tag": SOLUTION_TAG,
                        "check_tag": "check",
                        "nav_top": _nav(titles, i, "top"), "nav_bottom": _nav(titles, i, "bottom")}
            body, _ = exporter.from_notebook_node(nb, resources={"site": site_res,
                                                                 "metadata": {"name": path.stem}})
            body = _link_chapters(body, stems)
            bad = external_references(body)
            if bad:
                raise SiteError(f"{path.name}: the page would load {', '.join(sorted(set(bad)))} from the network")
            if "widgets" in nb.metadata and WIDGET_STATE not in body:
                raise SiteError(f"{path.name}: the page lacks the stored widget state")
            (staging / titles[i][0]).write_text(body, encoding="utf-8")
            pages.append(Page(path, titles[i][0], titles[i][1], execute, refreshed, seconds))
        for name, text in static_css.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text, encoding="utf-8")
        static_files += sorted(n.removeprefix(f"{STATIC}/") for n in static_css)
        (staging / "index.html").write_text(_index_html(pages, execute), encoding="utf-8")
        log(f"wrote {len(pages)} pages and index.html in {time.monotonic() - started:.1f} s")

        # 4. images beside the chapters (a markdown cell may show one), then the marker
        for image in sorted(chapters.rglob("*")):
            rel = image.relative_to(chapters)
            if (image.suffix.lower() not in IMAGE_SUFFIXES or not image.is_file()
                    or any(part in _SKIP or part.startswith(".") for part in rel.parts)
                    or image.resolve().is_relative_to(out)):
                continue
            if rel.parts[0] in (STATIC, MARKER, "index.html") or (staging / rel).exists():
                raise SiteError(f"{image} clashes with the site's own {rel}")
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(image, staging / rel)
        names = sorted(p.name for p in staging.iterdir()) + [MARKER]
        (staging / MARKER).write_text(json.dumps({
            "generator": GENERATOR, "version": __version__, "executed": execute,
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "chapters": [p.name for p in paths],
            "files": names}, indent=1) + "\n")
        files = _install(staging, out, old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Site(out, pages, static_files, time.monotonic() - start, files)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memhotplug-workbook html",
        description="Build a static HTML site of every chapter (index.html, one page per chapter, static/) "
                    "that renders with no network: plots and widgets show their stored state.")
    parser.add_argument("out", type=Path, metavar="OUT_DIR", help="folder to write the site into")
    parser.add_argument("--chapters", type=Path, default=None, metavar="DIR",
                        help="the chapters folder (default: ./chapters, else the one beside the package)")
    parser.add_argument("--js-dir", type=Path, default=None, metavar="DIR",
                        help="take the pinned npm tarballs from DIR (a copy of the download cache) and "
                             "download nothing")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="use the committed outputs instead of executing the chapters (faster; the "
                             "figures as tools/run_chapters.py last stored them)")
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="chapters executed at a time (default: the CPUs, at most 4)")
    parser.add_argument("--timeout", type=int, default=600, metavar="S", help="seconds per cell (default 600)")
    parser.add_argument("--kernel", default="python3", help="kernel to execute with (default python3)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty OUT_DIR that is not a previous site (its index.html, "
                             "chapter pages and static/ are replaced; other files stay)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``memhotplug-workbook html``: parse ``argv``, build the site, print a summary; the exit code."""
    args = _parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        _parser().error("--jobs must be at least 1")

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    try:
        site = build_site(args.out, args.chapters, js_dir=args.js_dir, force=args.force, execute=args.execute,
                          jobs=args.jobs, timeout=args.timeout, kernel=args.kernel, log=log)
    except (SiteError, JsAssetError, FileNotFoundError) as exc:
        print(f"memhotplug-workbook html: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(site.pages)} chapter pages and index.html to {site.out} "
          f"({site.size() / 2**20:.1f} MiB) in {site.seconds:.1f} s; open {site.out / 'index.html'} "
          f"or serve it: python -m http.server -d {site.out}")
    return 0
