"""The memhotplug-workbook command line: --version, subcommand registry, the lab command line."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import workbook
from workbook import cli

ROOT = Path(__file__).resolve().parent.parent


def test_version_via_python_m() -> None:
    out = subprocess.run([sys.executable, "-m", "workbook", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"memhotplug-workbook {workbook.__version__}"


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("memhotplug-workbook")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True).stdout
    assert workbook.__version__ in out


def test_lab_argv_is_offline_friendly(tmp_path: Path) -> None:
    argv = cli.lab_argv(tmp_path, ["--port", "9999"], euid=1000)
    assert argv[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in argv
    assert "--LabApp.news_url=None" in argv
    assert "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate" in argv
    assert "--allow-root" not in argv
    assert argv[-2:] == ["--port", "9999"]


def test_lab_allows_root_only_as_root(tmp_path: Path) -> None:
    assert "--allow-root" in cli.lab_argv(tmp_path, euid=0)


def test_lab_serves_the_chapters(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lab", "--print-command", "--no-browser"]) == 0
    line = capsys.readouterr().out.strip()
    assert f"--ServerApp.root_dir={ROOT / 'chapters'}" in line
    assert line.endswith("--no-browser")


def test_find_chapters_prefers_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "chapters").mkdir()
    assert cli.find_chapters(tmp_path) == tmp_path / "chapters"


def test_extra_arguments_are_refused_without_passthrough(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[list[str]] = []

    @cli.command("echo-test", "test only")
    def _echo(args: argparse.Namespace, extra: list[str]) -> int:
        calls.append(extra)
        return 7

    try:
        assert cli.main(["echo-test"]) == 7
        with pytest.raises(SystemExit):
            cli.main(["echo-test", "--bogus"])
        assert "unrecognized arguments: --bogus" in capsys.readouterr().err
        assert calls == [[]]
    finally:
        del cli._COMMANDS["echo-test"]


def test_replay_is_delegated_with_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["replay", "--help"])
    assert exit_info.value.code == 0
    assert "usage: memhotplug-workbook replay" in capsys.readouterr().out


def test_copy_missing_never_overwrites_a_learners_file(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "img").mkdir(parents=True)
    (src / "01_a.ipynb").write_text("new 01")
    (src / "02_b.ipynb").write_text("new 02")
    (src / "img" / "x.png").write_text("png")
    dest.mkdir()
    (dest / "01_a.ipynb").write_text("my answers")
    new = cli.copy_missing(src, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in new) == ["02_b.ipynb", "img/x.png"]
    assert (dest / "01_a.ipynb").read_text() == "my answers"


def test_lab_from_a_wheel_works_on_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    packaged = tmp_path / "site-packages" / "workbook" / "_chapters"
    packaged.mkdir(parents=True)
    (packaged / "00_start_here.ipynb").write_text("{}")
    monkeypatch.setattr(cli, "PACKAGED_CHAPTERS", packaged)
    monkeypatch.setattr(cli, "find_chapters", lambda start=None: packaged)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["lab", "--print-command"]) == 0
    out = capsys.readouterr().out
    assert f"--ServerApp.root_dir={tmp_path / 'memhotplug-workbook'}" in out
    assert (tmp_path / "memhotplug-workbook" / "00_start_here.ipynb").exists()


def test_find_chapters_names_the_callers_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "pkg" / "workbook" / "cli.py"))
    monkeypatch.setattr(cli, "PACKAGED_CHAPTERS", tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="pass --chapters DIR"):
        cli.find_chapters(tmp_path, option="--chapters")
