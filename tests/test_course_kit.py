"""The course kit: weekly releases, teacher-only passages, per-student seeds, grading, an nbgrader course.

The grading tests run chapters 00-02 (fast) for three students: one right, one partly wrong,
one empty, as a teacher would try it.
"""
from __future__ import annotations

import copy
import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbook import cli
from workbook.problems import generate
from workbook.teaching import grade, seeds, student
from workbook.teaching.exercises import exercises

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
SALT = "os-2027"
STUDENTS = ("alice", "bob", "carol")          # right, partly wrong, empty
#: what a student edition must never say: solutions it does not have, or how to reveal answers
TEACHER_WORDS = re.compile(r"\bsolutions?\b|answers\s*=\s*True|--answers|answer key|worked answer|\.answer\b",
                           re.IGNORECASE)


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.metadata.get("tags", []))


# --- weekly releases, teacher-only passages ---------------------------------------------------------

def test_only_selects_chapters() -> None:
    paths = student.chapter_paths(CHAPTERS)
    assert [p.name[:2] for p in student.select_chapters(paths, "00-02")] == ["00", "01", "02"]
    assert [p.name[:2] for p in student.select_chapters(paths, "5,07, 99")] == ["05", "07", "99"]
    assert student.select_chapters(paths, None) == paths
    for bad in ("42", "a-b", "03-x"):
        with pytest.raises(ValueError):
            student.select_chapters(paths, bad)


def test_teacher_only_passages_are_cut() -> None:
    text = "a\n<!-- teacher-only -->\nsecret\n<!-- /teacher-only -->\nb, inline<!-- teacher-only --> x<!-- /teacher-only -->."
    assert student.strip_teacher_only(text) == "a\nb, inline."
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("keep"),
                nbformat.v4.new_markdown_cell("drop", metadata={"tags": ["teacher-only"]}),
                nbformat.v4.new_code_cell("x = 1  # drop", metadata={"tags": ["teacher-only"]})]
    edition, _ = student.student_notebook(nb)
    assert [c.source for c in edition.cells[1:]] == ["keep"]


def test_no_student_notebook_mentions_solutions_or_answers(tmp_path: Path) -> None:
    """Every chapter's student edition (per-student seeds too): nothing about solutions or revealing answers."""
    student.build(CHAPTERS, tmp_path / "plain")
    student.build(CHAPTERS, tmp_path / "hub", seeds=student.Seeds(SALT))
    for path in sorted((tmp_path / "plain").glob("*.ipynb")) + sorted((tmp_path / "hub").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            found = TEACHER_WORDS.search(cell.source)
            assert found is None, f"{path.name}: {found.group(0)!r} in {cell.source[:200]!r}"
            assert "teacher-only" not in cell.source
    # the full edition still says it: the markers hide nothing from the teacher
    full = nbformat.read(CHAPTERS / "00_start_here.ipynb", as_version=4)
    assert any("solution" in c.source and "teacher-only" in c.source for c in full.cells)


def test_only_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["student", str(tmp_path / "week1"), "--only", "00,01,02"]) == 0
    assert sorted(p.name for p in (tmp_path / "week1").glob("*.ipynb")) == [
        "00_start_here.ipynb", "01_pages_pfns_struct_page.ipynb", "02_sections_and_memory_blocks.ipynb"]
    assert "3 notebooks" in capsys.readouterr().out


# --- per-student seeds ------------------------------------------------------------------------------

def test_student_seed_is_stable_and_differs() -> None:
    assert seeds.student_seed("alice", SALT, "01") == seeds.student_seed("alice", SALT, "01")
    values = {seeds.student_seed(s, SALT, "01") for s in STUDENTS} | {seeds.student_seed("alice", "other", "01"),
                                                                       seeds.student_seed("alice", SALT, "02")}
    assert len(values) == 5 and all(0 <= v < seeds.SEED_RANGE for v in values)


def test_current_student(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "dora")
    monkeypatch.delenv(seeds.STUDENT_ENV, raising=False)
    assert seeds.current_student() == "dora"
    monkeypatch.setenv(seeds.STUDENT_ENV, "erin")            # a grader running erin's notebook
    assert seeds.current_student() == "erin"
    assert seeds.course_seed("01", SALT) == seeds.student_seed("erin", SALT, "01")


def test_read_roster(tmp_path: Path) -> None:
    plain = tmp_path / "r.txt"
    plain.write_text("# week 1\nalice\n\nbob\n")
    assert seeds.read_roster(plain) == ["alice", "bob"]
    table = tmp_path / "r.csv"
    table.write_text("Name,Username\nAlice A,alice\nBob B,bob\n")
    assert seeds.read_roster(table) == ["alice", "bob"]
    for text in ("alice\nalice\n", "al ice\n", "../x\n", ""):
        plain.write_text(text)
        with pytest.raises(ValueError):
            seeds.read_roster(plain)


def test_seed_cells_per_student(tmp_path: Path) -> None:
    roster = tmp_path / "class.txt"
    roster.write_text("\n".join(STUDENTS) + "\n")
    assert cli.main(["student", str(tmp_path / "ed"), "--only", "01", "--per-student-seed", "--salt", SALT,
                     "--roster", str(roster)]) == 0
    baked = {}
    for name in STUDENTS:
        nb = nbformat.read(tmp_path / "ed" / name / "01_pages_pfns_struct_page.ipynb", as_version=4)
        cell = next(c for c in nb.cells if "seed" in _tags(c) and "SEED =" in c.source)
        baked[name] = int(re.search(r"^SEED = (\d+)", cell.source, re.M).group(1))
        assert baked[name] == seeds.student_seed(name, SALT, "01")
        assert "own variants" in nb.cells[0].source or "your own" in nb.cells[0].source.lower()
    assert len(set(baked.values())) == 3
    hub, _ = student.student_notebook(nbformat.read(CHAPTERS / "01_pages_pfns_struct_page.ipynb", as_version=4),
                                      "01", student.Seeds(SALT))
    cell = next(c for c in hub.cells if "seed" in _tags(c) and "SEED =" in c.source)
    assert f"course_seed('01', salt={SALT!r})" in cell.source
    with pytest.raises(SystemExit):
        student.main([str(tmp_path / "x"), "--per-student-seed"])          # no salt


# --- grading ----------------------------------------------------------------------------------------

def _fill(nb: nbformat.NotebookNode, chapter: nbformat.NotebookNode, key: str, name: str, how: str) -> None:
    """Answer ``nb`` as ``name`` would: right (seeded ones as literal values of their own variant), partly, not."""
    solutions = {c.get("id"): c.source for c in chapter.cells if "solution" in _tags(c)}
    draws = dict(re.findall(r"^(\w+) = generate\(\"([a-z-]+)\", SEED\)", "\n".join(c.source for c in chapter.cells),
                         re.M))
    for n, ex in enumerate(exercises(nb)):
        cell = nb.cells[ex.answer]
        if how == "empty" or (how == "partly" and n % 2):
            if how == "partly":
                cell.source = cell.source.replace("answer = None", "answer = '0x10'")
            continue
        check = nb.cells[ex.check].source
        var = re.match(r"(\w+)\.check\(answer\)", check.strip())
        if var:        # a seeded exercise: the literal answer of this student's own variant, as text in hex
            p = generate(draws[var.group(1)], seeds.student_seed(name, SALT, key))
            value = f"{p.answer:#x}" if isinstance(p.answer, int) and not isinstance(p.answer, bool) else p.answer
            cell.source = cell.source.replace("answer = None", f"answer = {str(value)!r}")
        else:
            cell.source = cell.source.replace("answer = None", solutions[cell.get("id")])


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Per-student editions of chapters 00-02 (a roster of three), answered as right, partly wrong, empty."""
    base = tmp_path_factory.mktemp("course")
    roster = base / "roster.txt"
    roster.write_text("\n".join(STUDENTS) + "\n")
    assert student.main([str(base / "edition"), "--only", "00-02", "--per-student-seed", "--salt", SALT,
                         "--roster", str(roster)]) == 0
    subs = base / "submitted"
    for name, how in zip(STUDENTS, ("right", "partly", "empty")):
        for path in sorted((base / "edition" / name).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            _fill(nb, nbformat.read(CHAPTERS / path.name, as_version=4), path.name[:2], name, how)
            (subs / name).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, subs / name / path.name)
    # bob also edits a check cell and deletes another one: grading puts the real ones back
    bob = subs / "bob" / "02_sections_and_memory_blocks.ipynb"
    nb = nbformat.read(bob, as_version=4)
    ex = exercises(nb)
    nb.cells[ex[1].check].source = "print('right: trust me')"
    del nb.cells[ex[3].check]
    nbformat.write(nb, bob)
    return subs


def test_grade_three_submissions(submissions: Path, tmp_path: Path) -> None:
    out = tmp_path / "grades.csv"
    assert cli.main(["grade", str(submissions), "--csv", str(out), "--salt", SALT]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == grade.COLUMNS
    per = {name: [r for r in rows if r["student"] == name] for name in STUDENTS}
    n = len(per["alice"])
    assert n == 10 and all(len(v) == n for v in per.values())        # 1 + 5 + 4 exercises in 00-02
    assert all(r["verdict"] == "right" for r in per["alice"]), [r for r in per["alice"] if r["verdict"] != "right"]
    assert all(r["verdict"] == "not answered" and r["points"] == "0" for r in per["carol"])
    bob = {r["exercise"]: r["verdict"] for r in per["bob"]}
    assert set(bob.values()) == {"right", "wrong"} and list(bob.values()).count("wrong") == 4
    assert bob["Exercise 2.2 (seeded)"] == "wrong"                    # the edited check cell was put back
    total = {name: sum(int(r["points"]) for r in v) for name, v in per.items()}
    assert total["alice"] == sum(int(r["max_points"]) for r in per["alice"]) == 14
    assert 0 < total["bob"] < total["alice"] and total["carol"] == 0


def test_grade_without_the_salt_uses_other_seeds(submissions: Path, tmp_path: Path) -> None:
    """alice's literal answers are right for her seeds only: graded with the chapters' seeds, they fail."""
    only_alice = tmp_path / "subs"
    (only_alice / "alice").mkdir(parents=True)
    shutil.copy(submissions / "alice" / "01_pages_pfns_struct_page.ipynb", only_alice / "alice")
    rows = grade.grade_dir(only_alice, CHAPTERS, salt=None, log=lambda _: None)
    seeded = [r for r in rows if "seeded" in r.exercise]
    assert seeded and all(r.verdict == "wrong" for r in seeded)


# --- nbgrader ---------------------------------------------------------------------------------------

def _nbgrader() -> list[str]:
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("nbgrader is part of the [test] extra and must be installed in CI")
        pytest.skip("nbgrader is not installed")
    return [sys.executable, "-m", "nbgrader"]


def test_nbgrader_course_generate_and_autograde(tmp_path: Path) -> None:
    """nbgrader's own generate_assignment, autograde and export accept the course and score it right."""
    nbg = _nbgrader()
    course = tmp_path / "course"
    assert cli.main(["nbgrader", str(course), "--only", "01", "--salt", SALT]) == 0
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("JUPYTERHUB_USER", None)

    def run(*args: str) -> str:
        done = subprocess.run([*nbg, *args], cwd=course, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout + done.stderr

    run("generate_assignment", "ch01")
    released = nbformat.read(course / "release" / "ch01" / "01_pages_pfns_struct_page.ipynb", as_version=4)
    source = nbformat.read(course / "source" / "ch01" / "01_pages_pfns_struct_page.ipynb", as_version=4)
    assert "BEGIN SOLUTION" not in nbformat.writes(released)
    tests = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata["nbgrader"]["points"] for c in tests] == [1, 1, 1, 2, 2]
    chapter = nbformat.read(CHAPTERS / "01_pages_pfns_struct_page.ipynb", as_version=4)
    for name, how in zip(STUDENTS, ("right", "partly", "empty")):
        nb = copy.deepcopy(released)
        for n, cell in enumerate(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")):
            src = next(s for s in source.cells if s.get("id") == cell.get("id"))
            body = re.search(r"### BEGIN SOLUTION\n(.*)\n### END SOLUTION", src.source, re.S).group(1)
            if how == "right" or (how == "partly" and n % 2 == 0):
                cell.source = cell.source.replace("answer = None", body)
            elif how == "partly":
                cell.source = cell.source.replace("answer = None", "answer = 12345")
        folder = course / "submitted" / name / "ch01"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "01_pages_pfns_struct_page.ipynb")
    assert chapter.cells                       # the chapter itself is untouched
    run("autograde", "ch01")
    run("export", "--to", "grades.csv")
    scores = {r["student_id"]: (float(r["score"]), float(r["max_score"]))
              for r in csv.DictReader((course / "grades.csv").open())}
    assert scores == {"alice": (7.0, 7.0), "bob": (4.0, 7.0), "carol": (0.0, 7.0)}
    # each student ran their own variant: the seeds nbgrader's kernel printed differ
    printed = {name: re.search(r"seed (\d+) for " + name, (course / "autograded" / name / "ch01" /
                                                          "01_pages_pfns_struct_page.ipynb").read_text())
               for name in STUDENTS}
    assert all(printed.values()) and len({m.group(1) for m in printed.values()}) == 3
    assert int(printed["bob"].group(1)) == seeds.student_seed("bob", SALT, "01")


# --- pdf ----------------------------------------------------------------------------------------

def test_pdf_says_how_to_get_a_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbook.teaching import pdf

    monkeypatch.delenv("MEMHOTPLUG_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="apt install chromium"):
        pdf.find_chromium(None, system=str(tmp_path / "no-chromium"))
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert pdf.find_chromium(None, system=str(tmp_path / "no-chromium")) == fake       # found on PATH
    assert pdf.find_chromium(str(fake)) == fake


# --- the instructor's guide, quotations ---------------------------------------------------------

def test_instructors_guide_is_up_to_date() -> None:
    """docs/instructors-guide.md is what tools/instructors_guide.py writes from the chapters and their checks."""
    from workbook.teaching.guide import render

    text = render(CHAPTERS)
    assert (ROOT / "docs" / "instructors-guide.md").read_text() == text, "run python tools/instructors_guide.py"
    for path in student.chapter_paths(CHAPTERS):
        for ex in exercises(nbformat.read(path, as_version=4)):
            assert f"**{ex.label}** ({ex.points} point" in text, (path.name, ex.label)
    assert "h** | **" in text and "After it a student can:" in text


def test_every_kernel_quotation_is_labelled() -> None:
    """Each C excerpt in a chapter says which file and release it quotes, and under which licence."""
    label = re.compile(r"```\n<sub>Quoted from `[\w/.-]+\.[ch]`( \(`\w+\(\)`\))?, Linux [0-9.]+( and [0-9.]+)?"
                       r"[^<]*; kernel code, licensed GPL-2\.0(-only|-or-later)? \(not under this workbook's MIT licence\)\.</sub>")
    quoted = 0
    for path in student.chapter_paths(CHAPTERS):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            blocks = re.findall(r"```c\b.*?```\n?[^\n]*", cell.source, re.S)
            for block in blocks:
                quoted += 1
                assert label.search(block), f"{path.name}: unlabelled quotation {block[:80]!r}"
    assert quoted == 24
