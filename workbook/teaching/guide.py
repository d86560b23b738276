"""The instructor's guide: ``docs/instructors-guide.md``, written from the chapters, the course plan and the checks.

    python tools/instructors_guide.py          # rewrite docs/instructors-guide.md
    python tools/instructors_guide.py --check  # exit 1 if it is out of date (CI)

Hand-written parts (times, outcomes, topics) come from :mod:`workbook.teaching.course`; the
exercises from the chapters (:mod:`workbook.teaching.exercises`); the misconceptions each
exercise catches from the check itself: the mistake table its verdict carries (a fixed
exercise, checked with ``answer = None``) or the hints a generator names over many seeds.
"""
from __future__ import annotations

import collections
import re
from pathlib import Path

from workbook.teaching.course import CHAPTERS, LEVELS, OS_TOPICS

__all__ = ["GUIDE_SEEDS", "exercise_rows", "misconceptions", "render"]

#: Seeds whose mistake tables are pooled for a seeded exercise.
GUIDE_SEEDS = 60
_DRAW = re.compile(r'^(\w+) = generate\("([a-z-]+)", SEED\)', re.MULTILINE)
_SEEDED_CHECK = re.compile(r"\s*(\w+)\.check\(answer\)\s*$")
_GENERIC = {"that is not it"}
_NUMBERS = re.compile(r"0x[0-9a-f]+|'[0-9a-f]+'|\d[\d,.]*")


def misconceptions(hints: list[str], limit: int = 6) -> list[str]:
    """The distinct hints, most frequent first; hints that differ only in their numbers count as one."""
    groups: dict[str, collections.Counter] = {}
    for h in hints:
        if h and h not in _GENERIC:
            groups.setdefault(_NUMBERS.sub("N", h), collections.Counter())[h] += 1
    ranked = sorted(groups.values(), key=lambda c: -sum(c.values()))
    return [c.most_common(1)[0][0] for c in ranked[:limit]]


def exercise_rows(path: Path) -> list[dict]:
    """Every exercise of one chapter: label, points, kind, generator, and the misconceptions its check names."""
    import nbformat

    from workbook.arch import GiB, KiB, MiB, TiB
    from workbook.problems import INFO, generate
    from workbook.teaching.exercises import exercises

    nb = nbformat.read(path, as_version=4)
    draws = dict(_DRAW.findall("\n".join(c.source for c in nb.cells)))
    namespace: dict = {"GiB": GiB, "MiB": MiB, "KiB": KiB, "TiB": TiB}
    rows = []
    for ex in exercises(nb):
        source = nb.cells[ex.check].source.strip()
        seeded = _SEEDED_CHECK.match(source)
        if seeded:
            name = draws[seeded.group(1)]
            hints = [h for seed in range(GUIDE_SEEDS) for h in generate(name, seed).mistakes.values()]
            info = INFO[name]
            rows.append({"label": ex.label, "points": ex.points, "generator": name,
                         "tags": f"{info.stars}, by hand: {info.by_hand}", "mistakes": misconceptions(hints)})
            continue
        *setup, call = source.splitlines()
        exec("\n".join(setup), namespace)                  # the check cell's imports (they add up in a chapter)
        verdict = eval(call, {**namespace, "answer": None})  # noqa: S307 - the chapter's own check cell
        rows.append({"label": ex.label, "points": ex.points, "generator": "",
                     "tags": "", "mistakes": misconceptions(list(verdict.mistakes.values()))})
    return rows


def _title(path: Path) -> str:
    import nbformat

    from workbook.teaching.site import chapter_title

    return chapter_title(nbformat.read(path, as_version=4), path.stem)


def render(chapters: Path) -> str:
    """The guide as Markdown."""
    from workbook.teaching.student import chapter_key, chapter_paths

    paths = {chapter_key(p): p for p in chapter_paths(chapters)}
    lines = [
        "# Instructor's guide",
        "",
        "<!-- Written by tools/instructors_guide.py from workbook/teaching/course.py, the chapters and their",
        "     checks; edit those and rerun it (CI checks that this file is up to date). -->",
        "",
        "For a lecturer who runs the workbook as labs: how long each chapter takes, what a student can do",
        "afterwards, what each exercise's check catches, where the chapter sits in an operating-systems course,",
        "and the commands that turn the chapters into graded assignments and exams.",
        "",
        "## Planning",
        "",
        "Times are estimates for a lab with the notebook open (reading, running every cell, answering every",
        "exercise), from one lecturer's trial run and the chapters' length; measure your own class.",
        "",
        "| chapter | level | undergraduates | professionals | OS-course topics |",
        "|---|---|---|---|---|",
    ]
    total_u = total_p = 0
    for c in CHAPTERS:
        if c.key not in paths or c.level == "reference":
            continue
        total_u += c.minutes_undergrad
        total_p += c.minutes_professional
        lines.append(f"| {_title(paths[c.key])} | {c.level} | {c.minutes_undergrad} min | "
                     f"{c.minutes_professional} min | {'; '.join(c.topics)} |")
    lines += [f"| **all** | | **{total_u / 60:.1f} h** | **{total_p / 60:.1f} h** | |", "",
              "The glossary (99) is reference, not a lab.", "",
              "### Where it fits in an operating-systems course", ""]
    for topic, keys in OS_TOPICS:
        lines.append(f"- **{topic}**: chapter{'s' if len(keys) > 1 else ''} {', '.join(keys)}")
    lines += ["", "### A release schedule", "",
              "The core path is " + LEVELS["core"] + " (one or two labs for every student); "
              + LEVELS["intermediate"] + " and " + LEVELS["advanced"] + " build on it, for an advanced or "
              "professional track. Release a level at a time, or a chapter a week:", "",
              "```bash",
              "memhotplug-workbook student week1/ --only 00-02 --per-student-seed --salt os-2027",
              "memhotplug-workbook student week2/ --only 03,04 --per-student-seed --salt os-2027",
              "```", "",
              "Put each folder in the students' git repository and hand it out with nbgitpuller (README,",
              "\"Teaching with the workbook\"): later releases only add notebooks.", "",
              "## Grading", "",
              "- **In the workbook's own way:** collect the notebooks as `SUBMISSIONS/<user>/...` and run",
              "  `memhotplug-workbook grade SUBMISSIONS --csv grades.csv --salt os-2027`: every notebook runs with",
              "  its student's seed and the real check cells (edited or deleted ones are put back); one CSV row per",
              "  exercise, `right`, `wrong`, `not answered`, `missing` or `error`, with points.",
              "- **With nbgrader:** `memhotplug-workbook nbgrader course/ --only 00-02 --salt os-2027` writes",
              "  `nbgrader_config.py` and `source/chNN/`; then nbgrader's own `generate_assignment`, release,",
              "  collect and `autograde`. The test cells hold the checks and the points below; the config runs",
              "  each submission as its student (nbgrader's student id = the JupyterHub user name), so",
              "  per-student seeds match.",
              "- **Points:** a seeded exercise 2 (everyone has their own variant), a fixed one 1.",
              "- **What the checks cannot stop:** the student's code runs in the same kernel as the checks, as",
              "  in any notebook autograder. The model can compute every answer (that is the point of the",
              "  workbook), and a seeded problem object carries its answer (`p.answer`). The fixed exercises",
              "  are the same for everyone and their answers are in the full edition and on the site. Grade",
              "  understanding on paper: `memhotplug-workbook problems --exam --roster class.txt --salt ...`",
              "  gives each student a sheet of by-hand variants and you an answer key (README table: how often",
              "  neighbours would share an answer).",
              "- **Paper:** `memhotplug-workbook pdf handouts/ --student --only 00-02` prints the student",
              "  edition, figures included.", "",
              "## Chapter by chapter", "",
              "Each exercise's misconceptions are the wrong answers its check recognises and names (for a seeded",
              f"exercise, pooled over seeds 0-{GUIDE_SEEDS - 1}); any other wrong answer gets the rule it breaks.",
              "The teacher's copy of a seeded exercise with a worked derivation:",
              "`memhotplug-workbook problems --seed N --only GENERATOR --answers`.", ""]
    for c in CHAPTERS:
        if c.key not in paths or c.level == "reference":
            continue
        lines += [f"### {_title(paths[c.key])}", "",
                  f"{c.level}; {c.minutes_undergrad} min (undergraduates), {c.minutes_professional} min "
                  f"(professionals); {'; '.join(c.topics)}.", "",
                  "After it a student can:", ""]
        lines += [f"- {o}" for o in c.outcomes]
        lines += [""]
        for row in exercise_rows(paths[c.key]):
            gen = f"; generator `{row['generator']}`, difficulty {row['tags']}" if row["generator"] else ""
            lines.append(f"**{row['label']}** ({row['points']} point{'s' if row['points'] > 1 else ''}{gen})"
                         + (": the check names" if row["mistakes"] else ""))
            lines.append("")
            lines += [f"- {m}" for m in row["mistakes"]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
