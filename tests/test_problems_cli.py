"""``memhotplug-workbook problems``: seeded, reproducible problem sets with answers on request."""
from __future__ import annotations

import subprocess
import sys

import pytest

from workbook import cli as workbook_cli
from workbook.problems import GENERATORS, _load_all
from workbook.problems import cli

FAST = ["--only", "memmap-size", "--only", "pfn-of-address", "--only", "block-of-address"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_same_seed_same_text_and_every_generator(capsys: pytest.CaptureFixture[str]) -> None:
    code, first, _ = _run(["--seed", "7"], capsys)
    assert code == 0 and _run(["--seed", "7"], capsys)[1] == first
    _load_all()
    assert first.splitlines()[0].startswith("memhotplug-workbook problems --seed 7: ")
    for number, name in enumerate(sorted(GENERATORS), 1):
        assert f"Problem {number} of {len(GENERATORS)}: {name}\n" in first
        assert f"ARG {name} seed=7\n" in first
    assert "ANSWER" not in first


def test_different_seeds_differ(capsys: pytest.CaptureFixture[str]) -> None:
    texts = {_run(["--seed", str(seed), *FAST], capsys)[1] for seed in (1, 2, 3)}
    assert len(texts) == 3


def test_answers_only_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    _, hidden, _ = _run(["--seed", "5", *FAST], capsys)
    _, shown, _ = _run(["--seed", "5", *FAST, "--answers"], capsys)
    assert "ANSWER" not in hidden and shown.count("ANSWER: ") == 3
    for line in hidden.splitlines()[1:]:              # the header says how to show them; the rest is shown too
        assert line in shown.splitlines()


def test_only_restricts_in_the_order_given(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(["--seed", "4", "--only", "pfn-of-address", "--only", "memmap-size",
                      "--only", "pfn-of-address"], capsys)
    assert out.count("\nProblem ") == 2
    assert out.index("Problem 1 of 2: pfn-of-address") < out.index("Problem 2 of 2: memmap-size")
    assert "altmap-alloc" not in out


def test_unknown_name_exits_2_with_the_known_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["--seed", "1", "--only", "memmap-size", "--only", "nope"], capsys)
    assert code == 2 and out == ""
    assert "unknown problem 'nope'" in err and all(name in err for name in GENERATORS)


def test_list_names_every_generator_with_its_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--list"], capsys)
    lines = out.splitlines()
    _load_all()
    assert code == 0 and [line.split()[0] for line in lines] == sorted(GENERATORS)
    assert all(len(line.split(None, 1)) == 2 for line in lines)
    assert any("altmap_alloc_block_buf()" in line for line in lines)
    assert "``" not in out


def test_seed_is_required_without_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2 and "--seed" in capsys.readouterr().err


def test_through_the_workbook_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert workbook_cli.main(["problems", "--seed", "9", "--only", "memmap-size"]) == 0
    assert "ARG memmap-size seed=9" in capsys.readouterr().out


def test_python_m_workbook_problems() -> None:
    argv = [sys.executable, "-m", "workbook", "problems", "--seed", "3", *FAST, "--answers"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert out == cli.render(3, ["memmap-size", "pfn-of-address", "block-of-address"], answers=True)
