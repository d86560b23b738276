"""``memhotplug-workbook student``: solutions out, outputs cleared, and every chapter still runs."""
from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbook import cli
from workbook.teaching import student

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
SOURCES = student.chapter_paths(CHAPTERS)
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.metadata.get("tags", []))


def _text(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(str(out.data.get("text/plain", "")))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


# --- the transform, on a small notebook of its own ---------------------------------------------

def _chapter() -> nbformat.NotebookNode:
    """A chapter in miniature: load cell, exercise, collapsed solution, check cell, an unrelated cell."""
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {}, "version_major": 2, "version_minor": 0}}
    out = [v4.new_output("stream", name="stdout", text="42\n")]
    nb.cells = [
        v4.new_markdown_cell("# 01 · A chapter\n\n### Exercise 1.1"),
        v4.new_code_cell("x = 6 * 7", execution_count=1, outputs=list(out)),
        v4.new_code_cell("answer = None  # a number", execution_count=2),
        v4.new_code_cell("# Solution: Run All runs it; expand it to read it.\nanswer = x  # SECRET",
                         execution_count=3, metadata={"tags": ["solution"], "collapsed": True,
                                                      "jupyter": {"source_hidden": True}}),
        v4.new_code_cell("from widgets.checks import check_number\n\ncheck_number(answer, 42, rule='r')",
                         execution_count=4, outputs=[v4.new_output("execute_result", data={"text/plain": "right: 42"},
                                                                   execution_count=4)]),
        v4.new_code_cell("print(x)", execution_count=5, outputs=list(out)),
    ]
    return nb


def _chapters_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "chapters"
    (folder / "img").mkdir(parents=True)
    nbformat.write(_chapter(), folder / "01_a_chapter.ipynb")
    nbformat.write(_chapter(), folder / "99_glossary.ipynb")
    (folder / "img" / "figure.svg").write_text("<svg/>")
    (folder / "sketch.ipynb").write_text("{}")                 # not a chapter: not copied
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "01_a_chapter-checkpoint.ipynb").write_text("{}")
    return folder


def test_solution_becomes_an_answer_stub_and_outputs_go() -> None:
    original = _chapter()
    nb, answers = student.student_notebook(original)
    nbformat.validate(nb)
    assert answers == 1
    assert original.cells[3].metadata["tags"] == ["solution"]            # the input is left alone
    assert "widgets" not in nb.metadata and nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and "Student edition" in nb.cells[0].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    sources = [c.source for c in code]
    assert sources[0] == "x = 6 * 7" and sources[-1] == "print(x)"
    stub = next(c for c in code if "answer" in _tags(c))
    assert stub.source == f"{student.STUB_HEAD}\nanswer = None  # a number"   # the exercise cell merged in
    assert "SECRET" not in nbformat.writes(nb) and "Solution:" not in nbformat.writes(nb)
    assert stub.metadata == {"tags": ["answer"]}                         # no longer collapsed
    check = code[code.index(stub) + 1]
    assert _tags(check) == ["check"] and "check_number(answer" in check.source
    assert sum("answer = None" in s for s in sources) == 1


def test_a_solution_without_exercise_cell_still_gets_answer_none() -> None:
    nb = _chapter()
    del nb.cells[2]
    edition, _ = student.student_notebook(nb)
    stub = next(c for c in edition.cells if "answer" in _tags(c))
    assert stub.source == f"{student.STUB_HEAD}\nanswer = None"


@pytest.mark.parametrize(("source", "is_check"), [
    ("check_pfn(answer, addr=1)", True), ("p.check(answer)", True), ("q.check( answer )", True),
    ("check_memmap_bytes(262_144, size=1)", False), ("print(answer)", False),
])
def test_check_cells_are_recognised(source: str, is_check: bool) -> None:
    assert student.is_check_cell(source) is is_check


def test_build_writes_notebooks_and_copies_other_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, out = _chapters_folder(tmp_path), tmp_path / "class" / "edition"
    assert student.main([str(out), "--chapters", str(folder)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["01_a_chapter.ipynb", "99_glossary.ipynb", "img"]
    assert (out / "img" / "figure.svg").read_text() == "<svg/>"
    printed = capsys.readouterr().out
    assert f"wrote {out / '01_a_chapter.ipynb'}" in printed and f"wrote {out / 'img' / 'figure.svg'}" in printed
    assert "2 notebooks, 2 exercises" in printed


def test_refuses_to_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, out = _chapters_folder(tmp_path), tmp_path / "edition"
    out.mkdir()
    mine = out / "01_a_chapter.ipynb"
    mine.write_text("my work")
    assert student.main([str(out), "--chapters", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "already holds 01_a_chapter.ipynb" in err and "--force" in err
    assert mine.read_text() == "my work"
    assert sorted(p.name for p in out.iterdir()) == ["01_a_chapter.ipynb"]     # nothing else written either


def test_force_overwrites_the_edition_only(tmp_path: Path) -> None:
    folder, out = _chapters_folder(tmp_path), tmp_path / "edition"
    assert student.main([str(out), "--chapters", str(folder)]) == 0
    (out / "01_a_chapter.ipynb").write_text("stale")
    notes, attempt = out / "notes.txt", out / "01_a_chapter-mine.ipynb"
    notes.write_text("students' notes")
    attempt.write_text("{}")
    assert student.main([str(out), "--chapters", str(folder)]) == 1
    assert (out / "01_a_chapter.ipynb").read_text() == "stale"
    assert student.main([str(out), "--chapters", str(folder), "--force"]) == 0
    nbformat.validate(nbformat.read(out / "01_a_chapter.ipynb", as_version=4))
    assert notes.read_text() == "students' notes" and attempt.read_text() == "{}"


def test_refuses_the_chapters_folder_and_a_folder_without_chapters(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    folder = _chapters_folder(tmp_path)
    before = (folder / "01_a_chapter.ipynb").read_text()
    assert student.main([str(folder), "--chapters", str(folder), "--force"]) == 1
    assert "chapters folder itself" in capsys.readouterr().err
    assert (folder / "01_a_chapter.ipynb").read_text() == before
    assert student.main([str(tmp_path / "out"), "--chapters", str(folder / "img")]) == 1
    assert "no chapter notebooks" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_the_command_line_runs_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _chapters_folder(tmp_path)
    assert cli.main(["student", str(tmp_path / "out"), "--chapters", str(folder)]) == 0
    assert "student edition: 2 notebooks" in capsys.readouterr().out


def test_no_chapters_folder_names_the_option(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    def nowhere(start: Path | None = None, option: str = "--root") -> Path:
        raise FileNotFoundError(f"no chapters/ folder; pass {option} DIR")     # as cli.find_chapters words it

    monkeypatch.setattr(cli, "find_chapters", nowhere)
    assert student.main([str(tmp_path / "out")]) == 1
    assert "--chapters DIR" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_importing_the_command_does_not_import_nbformat() -> None:
    code = "import sys, workbook, workbook.teaching.student; sys.exit('nbformat' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- the real chapters ---------------------------------------------------------------------------

def test_every_chapter_solution_ends_by_assigning_answer() -> None:
    """The stub replaces the whole solution cell: nothing else a solution binds may be needed later."""
    import ast

    for path in SOURCES:
        for cell in nbformat.read(path, as_version=4).cells:
            if "solution" in _tags(cell):
                last = ast.parse(cell.source).body[-1]
                assigned = {n.id for n in ast.walk(last) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                assert "answer" in assigned, f"{path.name}: {cell.source}"


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student edition of the real chapters."""
    out = tmp_path_factory.mktemp("student-edition")
    student.build(CHAPTERS, out, force=True)
    return out


def test_edition_of_the_real_chapters(edition: Path) -> None:
    assert [p.name for p in student.chapter_paths(edition)] == [p.name for p in SOURCES]
    assert any(p.name == "99_glossary.ipynb" for p in SOURCES)
    for path in SOURCES:
        original = nbformat.read(path, as_version=4)
        nb = nbformat.read(edition / path.name, as_version=4)
        nbformat.validate(nb)
        assert "widgets" not in nb.metadata
        solutions = [c for c in original.cells if "solution" in _tags(c)]
        answers = [i for i, c in enumerate(nb.cells) if "answer" in _tags(c)]
        assert len(answers) == len(solutions), path.name
        for i in answers:
            cell = nb.cells[i]
            assert cell.source.startswith(student.STUB_HEAD) and cell.source.splitlines()[-1].startswith(
                "answer = None"), cell.source
            assert "source_hidden" not in cell.metadata.get("jupyter", {})
            assert "check" in _tags(nb.cells[i + 1]), f"{path.name}: no check cell after answer cell {i}"
            # the full edition folds the verdict; the student's own verdict is shown
            assert "outputs_hidden" not in nb.cells[i + 1].metadata.get("jupyter", {})
            assert nb.cells[i - 1].cell_type == "markdown" or "answer = None" not in nb.cells[i - 1].source
        for cell in nb.cells:
            assert "solution" not in _tags(cell)
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        kept = [c.source for c in nb.cells if c.cell_type == "code" and "answer" not in _tags(c)]
        expected = [c.source for c in original.cells if c.cell_type == "code" and "solution" not in _tags(c)
                    and not (c.source.startswith("answer = None") and "\n" not in c.source.strip())]
        assert kept == expected, path.name


def _execute(path: Path) -> tuple[nbformat.NotebookNode, float]:
    start = time.monotonic()
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb, time.monotonic() - start


def test_every_student_notebook_runs_and_says_not_answered_yet(edition: Path) -> None:
    paths = student.chapter_paths(edition)[::-1]       # the later chapters run longest: start them first
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(paths, pool.map(_execute, paths)))
    checks = 0
    for path, (nb, seconds) in results.items():
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors or "raises-exception" in _tags(cell), \
                f"{path.name} ({seconds:.0f} s): {cell.source}\n{_text(cell)}"
            if "check" in _tags(cell):
                checks += 1
                assert "not answered yet" in _text(cell), f"{path.name}: {cell.source}\n{_text(cell)}"
                assert "right:" not in _text(cell), f"{path.name}: {cell.source}"
    assert checks >= sum(1 for p in SOURCES for c in nbformat.read(p, as_version=4).cells
                         if "solution" in _tags(c))
