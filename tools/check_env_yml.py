#!/usr/bin/env python3
"""Check that environment.yml and binder/environment.yml match pyproject.toml.

Every runtime and ``real`` dependency of pyproject.toml (whose marker holds for the
environment's python) must be in the environment file, conda or pip section, with the same
version specifiers, and the environment's python must satisfy ``requires-python``.  The
``test`` extra's own packages (pytest, playwright, nbgrader, ...) must *not* be there: these
files build the students' image (JupyterHub, Binder), and the tests install ``.[test]`` with
pip; the ``real`` extra (the QMP client of the real-kernel path) is there so that a class can
run the real path on Binder.
The package itself must be installed: by the pip section (``-e .``) of environment.yml,
and, for Binder, by binder/postBuild (repo2docker builds binder/environment.yml before the
repository is there, so that file must not pip-install ``.``).  Conda cannot be run
here, so whether conda-forge can solve the files is not checked.

    python tools/check_env_yml.py                  # both files of this repository
    python tools/check_env_yml.py ENV.yml [PYPROJECT.toml]
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# the optional extras the environment files carry too: tests, and the real-kernel path
EXTRAS = ("real",)             # extras the students' image installs too
# Debian packages Binder installs (binder/apt.txt) for `memhotplug-workbook capture`
BINDER_APT = ("qemu-system-x86", "busybox-static", "gcc", "libc6-dev")
SELF_INSTALLS = {"-e .", "-e.", ".", "-e ./", "./"}
_CONDA_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


def conda_requirement(spec: str) -> tuple[str, SpecifierSet]:
    """Split a conda match spec (``bokeh >=3.4,<4``, ``python=3.11``) into name and specifiers."""
    match = _CONDA_SPEC.match(spec)
    if not match:
        raise ValueError(f"cannot read conda spec {spec!r}")
    name, version = match.groups()
    version = version.replace(" ", "")
    if re.fullmatch(r"=?[0-9][0-9.]*\*?", version.lstrip("=")) and not version.startswith("=="):
        base = version.lstrip("=").rstrip("*").rstrip(".")   # conda's "=3.11" means 3.11.*
        version = f"=={base}.*"
    return canonicalize_name(name), SpecifierSet(version)


def read_environment(path: Path) -> tuple[dict[str, SpecifierSet], list[str]]:
    """Conda and pip requirements of environment.yml by canonical name, plus the raw pip lines."""
    data = yaml.safe_load(path.read_text())
    wanted: dict[str, SpecifierSet] = {}
    pip_lines: list[str] = []
    for item in data.get("dependencies") or []:
        if isinstance(item, dict):
            pip_lines.extend(str(line).strip() for line in item.get("pip") or [])
            continue
        name, spec = conda_requirement(str(item))
        wanted[name] = spec
    for line in pip_lines:
        if line in SELF_INSTALLS or line.startswith("-"):
            continue
        req = Requirement(line)
        wanted[canonicalize_name(req.name)] = req.specifier
    return wanted, pip_lines


def python_version(spec: SpecifierSet) -> str | None:
    """The lowest python release the environment's ``python`` spec names, e.g. ``3.11``."""
    for s in spec:
        if s.operator in ("==", ">=", "~=", "==="):
            return s.version.rstrip("*").rstrip(".")
    return None


def check(env_path: Path = ROOT / "environment.yml", pyproject_path: Path = ROOT / "pyproject.toml",
          *, self_install: bool = True) -> list[str]:
    """All the ways ``env_path`` drifted from ``pyproject_path``; empty when they agree.

    ``self_install``: the pip section must install the package (True) or must not (False).
    """
    project = tomllib.loads(pyproject_path.read_text())["project"]
    wanted, pip_lines = read_environment(env_path)
    problems: list[str] = []

    requires_python = SpecifierSet(project.get("requires-python", ""))
    py = python_version(wanted.pop("python", SpecifierSet()))
    if py is None:
        problems.append("environment.yml pins no python version")
    elif not requires_python.contains(py, prereleases=True):
        problems.append(f"python {py} does not satisfy requires-python {requires_python}")

    extras = project.get("optional-dependencies", {})
    runtime = list(project.get("dependencies", [])) + [line for name in EXTRAS for line in extras.get(name, [])]
    runtime_names = {canonicalize_name(Requirement(r).name) for r in runtime}
    for line in extras.get("test", []):
        name = canonicalize_name(Requirement(line).name)
        if name in wanted and name not in runtime_names:
            problems.append(f"test dependency in {env_path.name}: {Requirement(line).name} "
                            "(keep it in pyproject.toml's [test] extra, out of the students' environment)")
    for line in runtime:
        req = Requirement(line)
        if req.marker and py and not req.marker.evaluate({"python_version": py, "extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in wanted:
            problems.append(f"missing in environment.yml: {req.name}")
        elif wanted[name] != req.specifier:
            problems.append(f"{req.name}: environment.yml has '{wanted[name]}', pyproject.toml has '{req.specifier}'")

    installs_self = any(line in SELF_INSTALLS for line in pip_lines)
    if self_install and not installs_self:
        problems.append(f"{env_path.name} does not pip-install the package itself (-e .)")
    if not self_install and installs_self:
        problems.append(f"{env_path.name} pip-installs the package, which is not there yet when it is built")
    return problems


def check_binder(binder: Path = ROOT / "binder", pyproject_path: Path = ROOT / "pyproject.toml") -> list[str]:
    """Problems of the Binder set-up: its environment file, and a postBuild that installs the package."""
    problems = [f"binder: {p}" for p in check(binder / "environment.yml", pyproject_path, self_install=False)]
    post_build = binder / "postBuild"
    if not post_build.is_file() or not re.search(r"pip install (--no-deps )?-e \.", post_build.read_text()):
        problems.append("binder/postBuild does not pip-install the package (pip install -e .)")
    apt = binder / "apt.txt"
    listed = {ln.strip() for ln in apt.read_text().splitlines()} if apt.is_file() else set()
    for pkg in BINDER_APT:
        if pkg not in listed:
            problems.append(f"binder/apt.txt does not install {pkg} (the real-kernel path needs it)")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the problems found (or OK) and exit 1 if there are any."""
    args = sys.argv[1:] if argv is None else argv
    pyproject = Path(args[1]) if len(args) > 1 else ROOT / "pyproject.toml"
    try:
        if args:
            problems = check(Path(args[0]), pyproject)
        else:
            problems = check(ROOT / "environment.yml", pyproject) + check_binder(ROOT / "binder", pyproject)
    except (InvalidSpecifier, ValueError, yaml.YAMLError) as err:
        problems = [f"cannot read an environment file: {err}"]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{args[0] if args else 'environment.yml and binder/environment.yml'} OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
