"""A capture folder the replay cannot use gets one line naming the file and the problem, never a traceback.

``load_capture_scenario()`` checks a folder before anything is built from it; the command line
turns its CaptureError into that line and exit status 2.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbook import cli
from workbook.captures import CaptureError, capture_dirs, load_capture_scenario


def one_line(e: BaseException) -> str:
    text = str(e)
    assert text and "\n" not in text, text
    return text


def _capture_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "cap"
    shutil.copytree(capture_dirs()[0], dst)
    return dst


def _edit_scenario(folder: Path, edit) -> None:
    p = folder / "scenario.json"
    sc = json.loads(p.read_text())
    edit(sc)
    p.write_text(json.dumps(sc))


def test_load_capture_scenario_of_a_shipped_capture():
    for d in capture_dirs():
        sc = load_capture_scenario(d)
        assert sc["format"] == 1 and sc["steps"]


def _bad_captures(tmp_path: Path):
    """(folder, what the one-line error must say) for every kind of capture the replay cannot use."""
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("hello")
    a_file = tmp_path / "file.json"
    a_file.write_text("{}")
    out = [(tmp_path / "missing", "no such capture folder"),
           (empty, "not a capture folder (an empty folder"),
           (other, "not a capture folder (no scenario.json in it"),
           (a_file, "not a folder")]
    for name, text, expect in (("badjson", "{\"format\": 1,", "not valid JSON: Expecting property name enclosed in "
                                                              "double quotes at line 1 column 14"),
                               ("list", "[1, 2]", "not a scenario (the file holds a JSON list, not an object)"),
                               ("format", "{\"format\": 2}", "unsupported format 2 (the replay reads format 1)")):
        d = tmp_path / name
        d.mkdir()
        (d / "scenario.json").write_text(text)
        out.append((d, expect))
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "scenario.json").write_bytes(b"\xff\xfe{")
    out.append((binary, "not UTF-8 text"))
    for name, edit, expect in (
            ("kernel", lambda sc: sc["kernel"].update(series="5.4"),
             "kernel.series: unknown kernel '5.4'; known: 5.10, 5.13, 6.1, 6.6, 6.8, 6.12, 6.18, 7.2"),
            ("arch", lambda sc: sc["machine"].update(arch="vax"), "machine.arch: unknown architecture 'vax'"),
            ("noram", lambda sc: sc["machine"].pop("ram_bytes"), "missing 'machine.ram_bytes'"),
            ("strram", lambda sc: sc["machine"].update(ram_bytes="1G"), "'machine.ram_bytes' is str, not int"),
            ("node", lambda sc: sc["machine"]["nodes"].append(3), "machine.nodes[2] is not"),
            ("step", lambda sc: sc["steps"].append({"name": "x"}), "is not {\"name\", \"actions\": [...]}")):
        d = tmp_path / name
        shutil.copytree(capture_dirs()[0], d)
        _edit_scenario(d, edit)
        out.append((d, expect))
    return out


def test_load_capture_scenario_says_what_is_wrong_in_one_line(tmp_path):
    for folder, expect in _bad_captures(tmp_path):
        with pytest.raises(CaptureError) as ei:
            load_capture_scenario(folder)
        line = one_line(ei.value)
        assert str(folder) in line and expect in line, line
        assert isinstance(ei.value, ValueError)


def test_load_capture_scenario_of_an_unreadable_file(tmp_path, monkeypatch):
    d = _capture_copy(tmp_path)

    def unreadable(self, *a, **kw):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
    monkeypatch.setattr(Path, "read_text", unreadable)          # chmod 0 does not stop root
    with pytest.raises(CaptureError) as ei:
        load_capture_scenario(d)
    assert one_line(ei.value) == f"{d / 'scenario.json'}: cannot be read: Permission denied"


def test_cli_turns_a_capture_error_into_one_line_and_exit_2(capsys, monkeypatch):
    def bad_replay(argv):
        raise CaptureError("/x/scenario.json: missing 'steps'")
    import workbook.replay
    monkeypatch.setattr(workbook.replay, "main", bad_replay)
    assert cli.main(["replay", "/x"]) == 2
    err = capsys.readouterr().err
    assert err == "memhotplug-workbook replay: error: /x/scenario.json: missing 'steps'\n"


def test_replay_cli_prints_one_line_and_exits_2_for_a_capture_it_cannot_use(tmp_path):
    for folder, expect in _bad_captures(tmp_path):
        p = subprocess.run([sys.executable, "-m", "workbook", "replay", str(folder)],
                           capture_output=True, text=True)
        assert p.returncode == 2, (folder, p.stdout, p.stderr)
        assert p.stdout == "" and p.stderr.count("\n") == 1, p.stderr
        assert p.stderr.startswith("memhotplug-workbook replay: error: ") and expect in p.stderr
