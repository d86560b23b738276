"""Problem sets for a whole class: one sheet per student, an answer key, marking collected answers.

    write_roster(names, out, salt="os-2027", exam=True)   # sheets/NAME.md + .json, answer-key.csv + .json
    mark_responses(rows, salt="os-2027", exam=True)        # verdicts of answers collected as text

Each student's seed is :func:`workbook.teaching.seeds.student_seed` of (salt, name, "problems"),
so the key can be rebuilt from the roster and the salt at any time.  Also
:func:`answer_shares`: how often the most common answer comes up over many seeds, per generator
(the README's table).
"""
from __future__ import annotations

import collections
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from . import GENERATORS, INFO, Problem, _load_all, generate
from ..teaching.seeds import student_seed

__all__ = ["KEY_COLUMNS", "Share", "answer_shares", "mark_responses", "problem_record", "roster_sets",
           "sheet_markdown", "write_roster"]

KEY_COLUMNS = ["student", "seed", "number", "problem", "difficulty", "by_hand", "answer", "explanation"]
MARK_COLUMNS = ["student", "seed", "number", "problem", "response", "verdict", "message"]


def roster_sets(names: Iterable[str], salt: str, exam: bool = False,
                only: list[str] | None = None) -> dict[str, tuple[int, list[Problem]]]:
    """Every student's seed and problem set (every generator, or ``only``)."""
    _load_all()
    chosen = only or sorted(GENERATORS)
    out = {}
    for name in names:
        seed = student_seed(name, salt, "problems")
        out[name] = (seed, [generate(g, seed, exam=exam) for g in chosen])
    return out


def problem_record(p: Problem, answers: bool) -> dict:
    """One problem as JSON-ready data (answers only when asked)."""
    info = INFO[p.name]
    rec = {"problem": p.name, "seed": p.seed, "exam": p.exam, "difficulty": info.difficulty,
           "by_hand": p.by_hand, "params": {k: str(v) for k, v in p.params.items()}, "question": p.question}
    if answers:
        rec.update(answer=p.answer_text, explanation=p.explanation, derivation=list(p.derivation), rule=p.rule)
    return rec


def sheet_markdown(name: str, seed: int, problems: list[Problem], exam: bool) -> str:
    """A student's sheet: the parameters and the question of each problem, room for the answer."""
    kind = "exam" if exam else "problem set"
    lines = [f"# memhotplug-workbook {kind}: {name}", "",
             f"Seed {seed}. Work each answer out by hand; give numbers in decimal or hex (0x...).", ""]
    for number, p in enumerate(problems, 1):
        lines += [f"## Problem {number} ({INFO[p.name].stars})", "", "```text", p.show(answers=False), "```", "",
                  "Answer: ________________________________", ""]
    return "\n".join(lines)


def write_roster(names: list[str], out: Path, salt: str, exam: bool = False,
                 only: list[str] | None = None) -> list[Path]:
    """Write ``sheets/NAME.md``, ``sheets/NAME.json`` (no answers), ``answer-key.csv`` and ``answer-key.json``."""
    sets = roster_sets(names, salt, exam, only)
    sheets = out / "sheets"
    sheets.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    key_rows: list[dict] = []
    key_json = {"salt": salt, "exam": exam, "students": []}
    for name, (seed, problems) in sets.items():
        md, js = sheets / f"{name}.md", sheets / f"{name}.json"
        md.write_text(sheet_markdown(name, seed, problems, exam), encoding="utf-8")
        js.write_text(json.dumps({"student": name, "seed": seed, "exam": exam,
                                  "problems": [problem_record(p, False) for p in problems]}, indent=1) + "\n",
                      encoding="utf-8")
        written += [md, js]
        key_json["students"].append({"student": name, "seed": seed,
                                     "problems": [problem_record(p, True) for p in problems]})
        for number, p in enumerate(problems, 1):
            key_rows.append({"student": name, "seed": seed, "number": number, "problem": p.name,
                             "difficulty": INFO[p.name].difficulty, "by_hand": p.by_hand,
                             "answer": p.answer_text, "explanation": p.explanation})
    csv_path, json_path = out / "answer-key.csv", out / "answer-key.json"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, KEY_COLUMNS)
        writer.writeheader()
        writer.writerows(key_rows)
    json_path.write_text(json.dumps(key_json, indent=1) + "\n", encoding="utf-8")
    return written + [csv_path, json_path]


def mark_responses(rows: Iterable[Mapping[str, str]], salt: str, exam: bool = False,
                   only: list[str] | None = None) -> list[dict]:
    """Mark answers collected as text (columns ``student``, ``number``, ``answer``) with the problems' checks."""
    _load_all()
    chosen = only or sorted(GENERATORS)
    cache: dict[str, tuple[int, list[Problem]]] = {}
    out = []
    for row in rows:
        name, number, response = row["student"].strip(), int(row["number"]), row.get("answer", "")
        if name not in cache:
            cache.update(roster_sets([name], salt, exam, chosen))
        seed, problems = cache[name]
        if not 1 <= number <= len(problems):
            raise ValueError(f"{name}: there is no problem {number} (1 to {len(problems)})")
        p = problems[number - 1]
        verdict = p.check(response if response.strip() else None)
        out.append({"student": name, "seed": seed, "number": number, "problem": p.name, "response": response,
                    "verdict": "right" if verdict.ok else "not answered" if not response.strip() else "wrong",
                    "message": verdict.message})
    return out


@dataclass(frozen=True)
class Share:
    """How concentrated one generator's answers are over ``seeds`` seeds."""

    name: str
    seeds: int
    distinct: int
    top_answer: str
    top_share: float
    by_hand_share: float


def answer_shares(seeds: int = 1000, exam: bool = False, names: list[str] | None = None) -> list[Share]:
    """Per generator: distinct answers, the most common one and its share, over seeds ``0 .. seeds-1``."""
    _load_all()
    out = []
    for name in names or sorted(GENERATORS):
        counts: collections.Counter = collections.Counter()
        by_hand = 0
        for seed in range(seeds):
            p = generate(name, seed, exam=exam)
            counts[p.answer_text] += 1
            by_hand += p.by_hand
        top, n = counts.most_common(1)[0]
        out.append(Share(name, seeds, len(counts), top, n / seeds, by_hand / seeds))
    return out
