"""The JavaScript of the static site, all served from the site itself: nothing comes from a CDN.

Two kinds of files go into the site's ``static/`` folder:

* **npm packages, pinned:** ``requirejs`` (``require.js``) and ``@jupyter-widgets/html-manager``
  (``dist/embed-amd.js``, the renderer of the stored widget state, plus its font files).  Neither is
  in any Python package, so the build downloads each package's tarball from
  ``https://registry.npmjs.org`` (plain ``urllib``, no npm needed), checks it against the pinned
  ``sha512`` integrity (the registry's ``dist.integrity``), and keeps it in
  ``$XDG_CACHE_HOME/memhotplug-workbook/npm/`` (default ``~/.cache/...``).  A build machine without
  network passes ``--js-dir DIR``: a folder holding the same tarballs (a copy of that cache), checked
  against the same pins, and nothing is downloaded.
* **from installed Python packages:** BokehJS (``bokeh/server/static/js/bokeh.min.js``, the same
  version as the ``bokeh`` that serialised the figures) and jupyter_bokeh's AMD bundle
  (``jupyter_bokeh/nbextension/index.js``, the ``@bokeh/jupyter_bokeh`` widget module).  They are
  found with :func:`importlib.util.find_spec`; neither package is imported.

:data:`NPM_PACKAGES` holds the pins.  ``html-manager`` 1.0.15 is the one built against
``@jupyter-widgets/base`` 6.0.12 / ``controls`` 5.0.13, the versions of ipywidgets 8.1's JupyterLab
extension; bump it together with ipywidgets (``npm view @jupyter-widgets/html-manager@X dist.integrity``
or the registry's JSON gives the new integrity).
"""
from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["NPM_PACKAGES", "REGISTRY", "Asset", "JsAssetError", "NpmPackage", "cache_dir", "fetch_tarball",
           "install_static", "python_assets"]

REGISTRY = "https://registry.npmjs.org"
USER_AGENT = "memhotplug-workbook-site (urllib)"
# fonts embed-amd.js's CSS names (Font Awesome, Lato...); .eot and .svg fonts only matter to IE and old iOS
FONT_SUFFIXES = (".woff2", ".woff", ".ttf")


class JsAssetError(RuntimeError):
    """A JavaScript file of the site could not be found, fetched or verified."""


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm package: its tarball's integrity and the files the site takes from it."""

    name: str
    version: str
    integrity: str          # "sha512-<base64>", the registry's dist.integrity
    dest: str               # folder under static/ for the files
    files: tuple[str, ...]  # paths inside the tarball (below "package/") copied as they are
    fonts: bool = False     # also copy dist/* font files (embed-amd.js loads them relative to itself)

    @property
    def tarball_name(self) -> str:
        """``html-manager-1.0.15.tgz``: the registry's file name (no scope)."""
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"

    @property
    def url(self) -> str:
        """The tarball's URL on the npm registry."""
        return f"{REGISTRY}/{self.name}/-/{self.tarball_name}"

    @property
    def cache_name(self) -> str:
        """File name in the cache and in ``--js-dir``: scope included, so names never clash."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


NPM_PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage(
        name="requirejs", version="2.3.8",
        integrity="sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        dest="requirejs", files=("require.js", "package.json")),
    NpmPackage(
        name="@jupyter-widgets/html-manager", version="1.0.15",
        integrity="sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        dest="html-manager", files=("dist/embed-amd.js", "package.json"), fonts=True),
)


@dataclass(frozen=True)
class Asset:
    """One file written to ``static/``: where it came from, for ``static/SOURCES.json``."""

    path: str      # relative to static/
    source: str    # "npm:<name>@<version>" or "python:<dist>==<version>"
    origin: str    # tarball URL or installed file


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/memhotplug-workbook/npm`` (``~/.cache/...`` when the variable is unset or empty)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memhotplug-workbook" / "npm"


def _integrity_ok(data: bytes, integrity: str) -> bool:
    """True when ``data`` has the ``sha512-<base64>`` digest ``integrity``."""
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        raise JsAssetError(f"unsupported integrity {integrity!r} (only sha512)")
    return base64.b64encode(hashlib.sha512(data).digest()).decode() == expected


def fetch_tarball(pkg: NpmPackage, js_dir: Path | None = None, cache: Path | None = None,
                  timeout: float = 60) -> bytes:
    """The verified tarball of ``pkg``: from ``js_dir`` (never the network), else the cache, else the registry.

    A cached file that fails the check is fetched again; a downloaded one that fails is an error
    and is not cached.
    """
    if js_dir is not None:
        path = js_dir / pkg.cache_name
        if not path.is_file():
            raise JsAssetError(f"{path} is missing: put {pkg.url} there as {pkg.cache_name} "
                               f"(integrity {pkg.integrity}), or build once with network and copy {cache_dir()}")
        data = path.read_bytes()
        if not _integrity_ok(data, pkg.integrity):
            raise JsAssetError(f"{path} does not match the pinned integrity of {pkg.name}@{pkg.version}")
        return data
    cache = cache or cache_dir()
    path = cache / pkg.cache_name
    if path.is_file():
        data = path.read_bytes()
        if _integrity_ok(data, pkg.integrity):
            return data
    request = urllib.request.Request(pkg.url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            data = reply.read()
    except OSError as exc:
        raise JsAssetError(f"cannot download {pkg.url}: {exc}; without network, pass --js-dir with the "
                           f"tarballs ({', '.join(p.cache_name for p in NPM_PACKAGES)})") from exc
    if not _integrity_ok(data, pkg.integrity):
        raise JsAssetError(f"{pkg.url} does not match the pinned integrity {pkg.integrity}; not used")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache, prefix=".part-", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)
    return data


def _extract(pkg: NpmPackage, data: bytes, static: Path) -> list[Asset]:
    """Copy ``pkg``'s chosen files out of its tarball into ``static/<dest>/``."""
    wanted = {f"package/{name}": name for name in pkg.files}
    out: list[Asset] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            name = wanted.get(member.name)
            parts = PurePosixPath(member.name).parts
            if name is None and pkg.fonts and len(parts) == 3 and parts[1] == "dist" \
                    and member.name.endswith(FONT_SUFFIXES):
                name = parts[2]                       # beside embed-amd.js, where it looks for them
            if name is None:
                continue
            target = static / pkg.dest / PurePosixPath(name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
            out.append(Asset(target.relative_to(static).as_posix(), f"npm:{pkg.name}@{pkg.version}", pkg.url))
    missing = {f"{pkg.dest}/{PurePosixPath(n).name}" for n in pkg.files} - {a.path for a in out}
    if missing:
        raise JsAssetError(f"{pkg.name}@{pkg.version} has no {', '.join(sorted(missing))}")
    return out


def _package_dir(module: str) -> Path:
    """The folder of an installed package, without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise JsAssetError(f"the Python package {module!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def python_assets() -> dict[str, tuple[Path, str, str]]:
    """``static/`` path -> (installed file, ``dist==version``, path in the package) of BokehJS and jupyter_bokeh.

    BokehJS keeps its version in its name, so a page never pairs with another bokeh's BokehJS.
    """
    bokeh_version = importlib.metadata.version("bokeh")
    jb_version = importlib.metadata.version("jupyter_bokeh")
    wanted = {
        f"bokeh/bokeh-{bokeh_version}.min.js": ("bokeh", "server/static/js/bokeh.min.js", bokeh_version),
        "jupyter_bokeh/index.js": ("jupyter_bokeh", "nbextension/index.js", jb_version),
        "jupyter_bokeh/index.js.LICENSE.txt": ("jupyter_bokeh", "nbextension/index.js.LICENSE.txt", jb_version),
    }
    files: dict[str, tuple[Path, str, str]] = {}
    for path, (module, inside, version) in wanted.items():
        src = _package_dir(module) / inside
        if not src.is_file():
            if path.endswith(".txt"):
                continue                      # the license text is welcome, not required
            raise JsAssetError(f"{src} is missing (needed as static/{path})")
        files[path] = (src, f"{module}=={version}", f"{module}/{inside}")
    return files


def install_static(static: Path, js_dir: Path | None = None, cache: Path | None = None) -> list[Asset]:
    """Write every JavaScript file of the site into ``static`` and ``static/SOURCES.json``; the files written."""
    assets: list[Asset] = []
    for pkg in NPM_PACKAGES:
        assets += _extract(pkg, fetch_tarball(pkg, js_dir, cache), static)
    for path, (src, dist, origin) in python_assets().items():
        target = static / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        assets.append(Asset(path, f"python:{dist}", origin))
    sources = {
        "note": "Third-party files of this site; each keeps its own license (see its header or LICENSE file).",
        "npm": [{"name": p.name, "version": p.version, "tarball": p.url, "integrity": p.integrity}
                for p in NPM_PACKAGES],
        "files": [{"path": a.path, "from": a.source, "origin": a.origin} for a in assets],
    }
    (static / "SOURCES.json").write_text(json.dumps(sources, indent=1) + "\n")
    return assets
