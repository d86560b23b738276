"""``memhotplug-workbook pdf OUT_DIR``: the chapters as PDF files, for teachers who hand out paper.

    memhotplug-workbook pdf handouts/                       # build the site (chapters executed), print it
    memhotplug-workbook pdf handouts/ --student --only 00-02   # the student edition of week 1, run, printed
    memhotplug-workbook pdf handouts/ --site site/          # print a site `memhotplug-workbook html` built

One PDF per chapter (``NN_name.pdf``), printed by a headless Chromium from the static site
(:mod:`workbook.teaching.site`), so the figures are on paper as the chapter leaves them, each with
its text summary under it.  The site is served on 127.0.0.1 while it prints; nothing is loaded
from the network.  Needs a Chromium: Debian's ``chromium`` package (``apt install chromium``;
``./dev test`` installs it as root), or ``--chromium PATH`` / ``$MEMHOTPLUG_CHROMIUM``.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["find_chromium", "main", "print_site"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium(given: str | None = None, system: str = "/usr/bin/chromium") -> Path:
    """The Chromium to print with: ``given``, ``$MEMHOTPLUG_CHROMIUM``, Debian's (``system``), else one on PATH."""
    for candidate in (given, os.environ.get("MEMHOTPLUG_CHROMIUM"), system):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise FileNotFoundError("no Chromium to print with: install Debian's chromium package (apt install chromium), "
                            "or pass --chromium PATH")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextmanager
def _served(folder: Path) -> Iterator[str]:
    """``folder`` served on 127.0.0.1 (a free port) while the block runs; its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _print(chromium: Path, url: str, target: Path, budget_ms: int) -> None:
    """One page to ``target`` with headless Chromium (every other host unreachable)."""
    with tempfile.TemporaryDirectory(prefix="memhotplug-pdf-") as profile:
        argv = [str(chromium), "--headless", "--disable-gpu", "--no-first-run", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--no-pdf-header-footer",
                f"--virtual-time-budget={budget_ms}", "--run-all-compositor-stages-before-draw",
                f"--print-to-pdf={target}", url]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")      # Chromium refuses to run as root with its sandbox
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        raise RuntimeError(f"chromium could not print {url}: {done.stderr.strip()[-1500:]}")


def print_site(site_dir: Path, out: Path, *, only: str | None = None, chromium: Path | None = None,
               budget_ms: int = 20000, log: Callable[[str], None] = print) -> list[Path]:
    """Print every chapter page of a built site into ``out``; the PDFs written."""
    from workbook.teaching.student import select_chapters

    pages = select_chapters(sorted(site_dir.glob("[0-9][0-9]_*.html")), only)
    if not pages:
        raise FileNotFoundError(f"{site_dir} holds no chapter pages (NN_*.html); build it with memhotplug-workbook html")
    chromium = chromium or find_chromium()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with _served(site_dir) as base:
        for page in pages:
            start = time.monotonic()
            target = out / f"{page.stem}.pdf"
            _print(chromium, base + page.name, target, budget_ms)
            log(f"  {target.name}: {target.stat().st_size / 1024:.0f} KiB ({time.monotonic() - start:.1f} s)")
            written.append(target)
    return written


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memhotplug-workbook pdf",
        description="Print the chapters to PDF, one file per chapter, from the static site (figures included) "
                    "with a headless Chromium; nothing is loaded from the network.")
    parser.add_argument("out", type=Path, metavar="OUT_DIR", help="folder for the PDF files")
    parser.add_argument("--site", type=Path, metavar="DIR", help="print this site (from memhotplug-workbook html) "
                                                                 "instead of building one")
    parser.add_argument("--chapters", type=Path, default=None, metavar="DIR",
                        help="the chapters folder (default: ./chapters, else the one beside the package)")
    parser.add_argument("--only", metavar="LIST", help="only these chapters: 00,01,02 or 00-02")
    parser.add_argument("--student", action="store_true",
                        help="print the student edition (no solutions; its answer cells empty), run for its figures")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="use the committed outputs instead of running the chapters (faster)")
    parser.add_argument("--js-dir", type=Path, default=None, metavar="DIR",
                        help="the site's pinned npm tarballs, for a machine without network (see html --js-dir)")
    parser.add_argument("--chromium", metavar="PATH", help="the Chromium to print with")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``memhotplug-workbook pdf``: the exit code."""
    args = _parser().parse_args(argv)
    from workbook.teaching.site import SiteError, build_site
    from workbook.teaching.site_assets import JsAssetError

    try:
        chromium = find_chromium(args.chromium)
        with tempfile.TemporaryDirectory(prefix="memhotplug-pdf-") as tmp:
            site_dir = args.site
            if site_dir is None:
                chapters = args.chapters
                if chapters is None:
                    from workbook.cli import find_chapters

                    chapters = find_chapters(option="--chapters")
                if args.student or args.only:
                    from workbook.teaching.student import build as student_build

                    edition = Path(tmp) / "chapters"
                    if args.student:
                        student_build(chapters, edition, only=args.only)
                    else:
                        from workbook.teaching.student import chapter_paths, select_chapters

                        edition.mkdir()
                        for path in select_chapters(chapter_paths(chapters), args.only):
                            shutil.copy2(path, edition / path.name)
                    chapters = edition
                    if not args.execute and args.student:
                        print("memhotplug-workbook pdf: --student runs the edition for its figures; "
                              "--no-execute would print it without any", file=sys.stderr)
                        return 1
                site_dir = Path(tmp) / "site"
                print("building the site ...", flush=True)
                build_site(site_dir, chapters, js_dir=args.js_dir, execute=args.execute, log=lambda line: None)
            print(f"printing with {chromium} ...", flush=True)
            written = print_site(site_dir, args.out, only=None if args.site is None else args.only,
                                 chromium=chromium, log=lambda line: print(line, flush=True))
    except (OSError, RuntimeError, ValueError, SiteError, JsAssetError) as err:
        print(f"memhotplug-workbook pdf: {err}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} PDF file(s) to {args.out}")
    return 0
