"""environment.yml stays in step with pyproject.toml (tools/check_env_yml.py)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "check_env_yml.py"

_spec = importlib.util.spec_from_file_location("check_env_yml", SCRIPT)
assert _spec and _spec.loader
check_env_yml = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_env_yml)


def test_environment_yml_matches_pyproject() -> None:
    assert check_env_yml.check(ROOT / "environment.yml", ROOT / "pyproject.toml") == []


def test_script_exit_code_and_message() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "environment.yml and binder/environment.yml OK"


def test_binder_matches_pyproject() -> None:
    assert check_env_yml.check_binder(ROOT / "binder", ROOT / "pyproject.toml") == []


def test_binder_drift_is_caught(tmp_path: Path) -> None:
    binder = tmp_path / "binder"
    binder.mkdir()
    text = (ROOT / "binder" / "environment.yml").read_text().replace("  - pandas >=2.1,<4\n", "")
    (binder / "environment.yml").write_text(text + "  - pip:\n      - -e .\n")
    (binder / "postBuild").write_text("#!/bin/bash\necho nothing\n")
    (binder / "apt.txt").write_text((ROOT / "binder" / "apt.txt").read_text())
    assert check_env_yml.check_binder(binder, ROOT / "pyproject.toml") == [
        "binder: missing in environment.yml: pandas",
        "binder: environment.yml pip-installs the package, which is not there yet when it is built",
        "binder/postBuild does not pip-install the package (pip install -e .)",
    ]


def _drift(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """A copy of environment.yml with each (old, new) text replacement applied."""
    text = (ROOT / "environment.yml").read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "environment.yml"
    path.write_text(text)
    return path


def test_drifted_copy_is_caught(tmp_path: Path) -> None:
    env = _drift(tmp_path,
                 ("  - numpy >=1.26,<3\n", ""),
                 ("bokeh >=3.4,<4", "bokeh >=3.0"),
                 ("python=3.11", "python=3.9"),
                 ("      - -e .\n", "      - requests\n"))
    problems = check_env_yml.check(env, ROOT / "pyproject.toml")
    assert "missing in environment.yml: numpy" in problems
    assert "bokeh: environment.yml has '>=3.0', pyproject.toml has '<4,>=3.4'" in problems
    assert "python 3.9 does not satisfy requires-python >=3.10" in problems
    assert "environment.yml does not pip-install the package itself (-e .)" in problems
    run = subprocess.run([sys.executable, str(SCRIPT), str(env)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "missing in environment.yml: numpy" in run.stdout


def test_dependency_may_come_through_pip(tmp_path: Path) -> None:
    env = _drift(tmp_path, ("  - pandas >=2.1,<4\n", ""), ("      - -e .\n", "      - -e .\n      - pandas>=2.1,<4\n"))
    assert check_env_yml.check(env, ROOT / "pyproject.toml") == []


def test_test_tools_stay_out_of_the_students_environment(tmp_path: Path) -> None:
    """pytest, playwright, nbgrader are the [test] extra's: the JupyterHub/Binder image must not carry them."""
    for path in (ROOT / "environment.yml", ROOT / "binder" / "environment.yml"):
        text = path.read_text()
        assert not any(f"- {name}" in text for name in ("pytest", "playwright", "hypothesis", "nbgrader", "nbval"))
    env = _drift(tmp_path, ("  - numpy >=1.26,<3\n", "  - numpy >=1.26,<3\n  - playwright >=1.45\n"),
                 ("      - -e .\n", "      - -e .\n      - nbgrader>=0.9\n"))
    problems = check_env_yml.check(env, ROOT / "pyproject.toml")
    assert any(p.startswith("test dependency in environment.yml: playwright") for p in problems)
    assert any(p.startswith("test dependency in environment.yml: nbgrader") for p in problems)


@pytest.mark.parametrize(("spec", "name", "specifiers"), [
    ("python=3.11", "python", "==3.11.*"),
    ("jupyter_bokeh >=4.0.5,<5", "jupyter-bokeh", "<5,>=4.0.5"),
    ("pytest-xdist>=3.5", "pytest-xdist", ">=3.5"),
    ("pip", "pip", ""),
])
def test_conda_specs(spec: str, name: str, specifiers: str) -> None:
    got_name, got = check_env_yml.conda_requirement(spec)
    assert (got_name, str(got)) == (name, specifiers)


def test_real_extra_and_binder_apt_are_checked(tmp_path: Path) -> None:
    env = tmp_path / "environment.yml"
    env.write_text((ROOT / "environment.yml").read_text().replace("      - qemu.qmp >=0.0.3\n", ""))
    assert check_env_yml.check(env, ROOT / "pyproject.toml") == ["missing in environment.yml: qemu.qmp"]
    binder = tmp_path / "binder"
    binder.mkdir()
    (binder / "environment.yml").write_text((ROOT / "binder" / "environment.yml").read_text())
    (binder / "postBuild").write_text((ROOT / "binder" / "postBuild").read_text())
    (binder / "apt.txt").write_text("qemu-system-x86\n")
    assert check_env_yml.check_binder(binder, ROOT / "pyproject.toml") == [
        f"binder/apt.txt does not install {p} (the real-kernel path needs it)"
        for p in ("busybox-static", "gcc", "libc6-dev")]
