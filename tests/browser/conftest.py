"""Real-browser fixtures: a throw-away JupyterLab on 127.0.0.1 and Playwright driving Debian's Chromium.

``lab_server`` (session) serves a temporary copy of ``chapters/`` (Lab autosaves, the
committed outputs must not change) with a fixed token and isolated ``JUPYTER_*`` dirs.
``browser`` (session) launches ``/usr/bin/chromium`` (never a Playwright-downloaded build).
``lab`` (per test) is a :class:`LabPage`: a fresh page whose every non-loopback request is
aborted and recorded, with helpers ``open_notebook``, ``run_all_cells``, ``kernel_exec``,
``bokeh_models`` and ``screenshot``.  Screenshots go to ``test-output/`` (git-ignored).

Without /usr/bin/chromium (or ``$MEMHOTPLUG_CHROMIUM``) the tests skip, except under
``CI=true`` where they fail.
"""
from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM = Path(os.environ.get("MEMHOTPLUG_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
TOKEN = "memhotplug-browser-test"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
NEWS_OFF = {"fetchNews": "false", "checkForUpdates": False}

# JavaScript run in the page: the notebook panel Lab shows, through window.jupyterapp
# (exposed by --LabApp.expose_app_in_browser).
_PANEL = "const panel = window.jupyterapp.shell.currentWidget;"
_KERNEL_IDLE = f"""() => {{
    if (!window.jupyterapp) return false;
    {_PANEL}
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
                   && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle' && panel.context.isReady;
}}"""
_ALL_RUN = f"""() => {{
    {_PANEL}
    const code = panel.content.widgets.filter(c => c.model.type === 'code');
    return panel.sessionContext.session.kernel.status === 'idle'
           && code.every(c => c.model.executionCount !== null);
}}"""
_KERNEL_EXEC = f"""async (code) => {{
    {_PANEL}
    const future = panel.sessionContext.session.kernel.requestExecute({{code, store_history: false}});
    let text = '';
    future.onIOPub = (msg) => {{
        const c = msg.content;
        if (msg.header.msg_type === 'stream') text += c.text;
        if (msg.header.msg_type === 'error') text += c.ename + ': ' + c.evalue;
    }};
    await future.done;
    return text;
}}"""
_BOKEH_MODELS = """(typeName) => {
    if (!window.Bokeh || !window.Bokeh.documents) return [];
    const out = [];
    for (const doc of window.Bokeh.documents)
        for (const m of doc.all_models)
            if (m.type === typeName) out.push(m);
    const columns = (data) => Object.fromEntries(
        [...(data instanceof Map ? data : Object.entries(data))].map(([k, v]) => [k, Array.from(v)]));
    return out.map(m => {
        const attrs = {};
        for (const [name, value] of Object.entries(m.attributes)) {
            if (name === 'data' && value && typeof value === 'object') attrs[name] = columns(value);
            else if (value === null || ['string', 'number', 'boolean'].includes(typeof value))
                attrs[name] = value;
        }
        return attrs;
    });
}"""


def require_chromium() -> None:
    """Skip without /usr/bin/chromium, or fail under CI=true where the browser test must run."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}: CI must run the browser test", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, served folder and process."""

    url: str
    token: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def request(self, path: str, method: str = "GET") -> Any:
        """Call the server's REST API with the token; the decoded JSON reply (or None)."""
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll ``/api/status`` until the server answers, or fail with its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                self.request("/api/status")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        pytest.fail(f"jupyter lab did not answer within {timeout} s:\n{self.log.read_text()}")

    def shutdown(self) -> None:
        """Ask the server to stop (kernels included); terminate, then kill, only if it won't."""
        try:
            self.request("/api/shutdown", method="POST")
            self.proc.wait(timeout=30)
        except (urllib.error.URLError, ConnectionError, TimeoutError, subprocess.TimeoutExpired):
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1 serving a temporary copy of chapters/, shut down at the end."""
    require_chromium()
    base = tmp_path_factory.mktemp("lab")
    root = base / "chapters"
    shutil.copytree(ROOT / "chapters", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "user-settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps(NEWS_OFF))
    env = dict(os.environ)
    for name in ("config", "data", "runtime"):
        (base / name).mkdir()
        env[f"JUPYTER_{name.upper()}_DIR"] = str(base / name)
    env["IPYTHONDIR"] = str(base / "ipython")
    port = _free_port()
    log = base / "lab.log"
    argv = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--port-retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=base)
    server = LabServer(f"http://127.0.0.1:{port}", TOKEN, root, proc, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.shutdown()
        OUTPUT.mkdir(exist_ok=True)
        shutil.copyfile(log, OUTPUT / "lab.log")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless /usr/bin/chromium under Playwright, for the whole session."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class LabPage:
    """One browser page on the Lab server, with helpers for notebooks, kernels and bokeh."""

    page: Any
    server: LabServer
    blocked: list[str] = field(default_factory=list)

    def open_notebook(self, name: str, timeout: float = 60) -> None:
        """Open ``name`` (relative to the served chapters folder) and wait for an idle kernel.

        ``reset`` clears the saved workspace, so notebooks opened by earlier tests of the
        session do not come back as hidden tabs that locators could match.
        """
        self.page.goto(f"{self.server.url}/lab/tree/{name}?reset&token={self.server.token}")
        self.page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000)

    def command(self, name: str, args: dict[str, Any] | None = None) -> Any:
        """Run a JupyterLab command (``notebook:run-all-cells``, ...) and await it."""
        return self.page.evaluate("([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}])

    def run_all_cells(self, timeout: float = 120) -> None:
        """Clear the stored outputs, run every cell, wait until all ran and the kernel is idle."""
        self.command("notebook:clear-all-cell-outputs")
        self.command("notebook:run-all-cells")
        self.page.wait_for_function(_ALL_RUN, timeout=timeout * 1000)

    def kernel_exec(self, code: str) -> str:
        """Execute ``code`` in the notebook's kernel (not in a cell); its printed output."""
        return self.page.evaluate(_KERNEL_EXEC, code)

    def bokeh_models(self, type_name: str) -> list[dict[str, Any]]:
        """Plain attributes of every ``type_name`` model in ``window.Bokeh.documents``."""
        return self.page.evaluate(_BOKEH_MODELS, type_name)

    def screenshot(self, name: str, locator: Any = None) -> bytes:
        """PNG of ``locator`` (or the page), also saved as ``test-output/<name>.png``."""
        OUTPUT.mkdir(exist_ok=True)
        target = locator if locator is not None else self.page
        return target.screenshot(path=str(OUTPUT / f"{name}.png"))


def _is_loopback(url: str) -> bool:
    """True for URLs served by this machine (loopback host) or the page itself (data:, blob:)."""
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOOPBACK


@pytest.fixture
def lab(lab_server: LabServer, browser: Any) -> Iterator[LabPage]:
    """A fresh page on the Lab server; any non-loopback request is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    lab_page = LabPage(page, lab_server)

    def guard(route: Any) -> None:
        """Let loopback requests through; abort and record everything else."""
        if _is_loopback(route.request.url):
            route.continue_()
        else:
            lab_page.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    try:
        yield lab_page
    finally:
        context.close()
    assert lab_page.blocked == [], f"requests left this machine: {lab_page.blocked}"


# --- the static site: served on loopback, opened with every other host blocked ------------------------

#: The text of every bokeh Title in the page's documents (which figure a view shows).
TITLES_JS = """() => {
    if (!window.Bokeh || !window.Bokeh.documents) return [];
    const out = [];
    for (const doc of window.Bokeh.documents)
        for (const m of doc.all_models)
            if (m.type === 'Title') out.push(m.text);
    return out;
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """``folder`` served by http.server on 127.0.0.1 while the block runs; its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class OfflinePage:
    """A page whose non-loopback requests are aborted (``blocked``), with the page errors it raised."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def offline_page(browser: Any) -> Iterator[OfflinePage]:
    """A fresh 1400x1100 page that may reach loopback only; fails afterwards on a blocked request or page error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    off = OfflinePage(page)

    def guard(route: Any) -> None:
        if _is_loopback(route.request.url):
            route.continue_()
        else:
            off.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("pageerror", lambda exc: off.errors.append(str(exc)))
    try:
        yield off
    finally:
        context.close()
    assert off.errors == [], f"page errors: {off.errors}"
    assert off.blocked == [], f"requests left this machine: {off.blocked}"


def count_pixels(png: bytes, rgb: tuple[int, int, int], tolerance: int = 6) -> int:
    """Pixels of ``png`` within ``tolerance`` of ``rgb`` in every channel."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int((np.abs(pixels - np.array(rgb, dtype=np.int16)) <= tolerance).all(axis=2).sum())
