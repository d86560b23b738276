"""``memhotplug-workbook problems --seed N``: print a seeded problem set, OSTEP style.

    memhotplug-workbook problems --seed 7                   # one problem of every generator
    memhotplug-workbook problems --seed 7 --answers         # ... with answers and worked derivations
    memhotplug-workbook problems --seed 7 --exam --answers  # exam variants: by hand, wide answer spaces
    memhotplug-workbook problems --seed 7 --only memmap-size --only pfn-of-address
    memhotplug-workbook problems --list                     # the generators: difficulty, by hand, one line each
    memhotplug-workbook problems --roster class.txt --salt os-2027 --exam --out exam/   # a sheet per student
    memhotplug-workbook problems --mark answers.csv --salt os-2027 --exam              # mark collected answers
    memhotplug-workbook problems --stats 1000               # how often the most common answer comes up

The same seed always prints the same problems, so a class can share one number and compare
answers; ``--answers`` with that seed is the answer key.  With ``--roster`` every student gets
the seed :func:`workbook.teaching.seeds.student_seed` derives from their name and ``--salt``.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from workbook.problems import GENERATORS, INFO, _load_all, problem_set

__all__ = ["describe", "main", "render", "shares_table"]

RULE = "=" * 72


def describe(name: str) -> str:
    """The first line of generator ``name``'s docstring (RST ````code```` written as ```code```)."""
    doc = (GENERATORS[name].__doc__ or "").strip()
    return doc.splitlines()[0].replace("``", "`") if doc else ""


def render(seed: int, names: list[str] | None = None, answers: bool = False, exam: bool = False) -> str:
    """The problem set of ``seed`` (every generator, or ``names`` in that order) as text."""
    problems = problem_set(seed, names, exam=exam)
    key = "answers shown" if answers else "answers hidden: add --answers to show them"
    kind = ", exam variants" if exam else ""
    lines = [f"memhotplug-workbook problems --seed {seed}: {len(problems)} problem"
             f"{'' if len(problems) == 1 else 's'} ({key}{kind})"]
    for number, problem in enumerate(problems, 1):
        lines += ["", RULE, f"Problem {number} of {len(problems)}: {problem.name}", RULE, "",
                  problem.show(answers=answers)]
    return "\n".join(lines) + "\n"


def shares_table(seeds: int, names: list[str] | None = None) -> str:
    """A Markdown table: per generator, its tags and the most common answer's share, default and exam."""
    from workbook.problems.batch import answer_shares

    default = {s.name: s for s in answer_shares(seeds, False, names)}
    exam = {s.name: s for s in answer_shares(seeds, True, names)}
    lines = [f"| generator | chapter | difficulty | by hand | most common answer ({seeds} seeds) | its share | "
             "distinct | by hand | with `--exam`: share | distinct | by hand |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, d in default.items():
        e, info = exam[name], INFO[name]
        top = d.top_answer if len(d.top_answer) <= 24 else d.top_answer[:21] + "..."
        lines.append(f"| `{name}` | {info.chapter} | {info.stars} | {info.by_hand} | `{top}` | {d.top_share:.0%} "
                     f"| {d.distinct} | {d.by_hand_share:.0%} | {e.top_share:.0%} | {e.distinct} "
                     f"| {e.by_hand_share:.0%} |")
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memhotplug-workbook problems",
        description="Print a seeded problem set: ARG lines (the parameters), then the question. "
                    "The same seed gives the same problems.")
    parser.add_argument("--seed", type=int, metavar="N", help="seed of the problem set (required unless --list)")
    parser.add_argument("--answers", action="store_true",
                        help="show each problem's answer, explanation and worked derivation")
    parser.add_argument("--exam", action="store_true",
                        help="exam variants: only ones a student can work out by hand, with wide answer spaces")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="only this generator (repeatable); see --list")
    parser.add_argument("--list", action="store_true",
                        help="list the generators (difficulty, whether solvable by hand, one line each) and exit")
    parser.add_argument("--roster", type=Path, metavar="FILE",
                        help="one sheet per student of FILE (one name a line, or a CSV with a username column) "
                             "into --out: sheets/NAME.md and .json, answer-key.csv and .json")
    parser.add_argument("--out", type=Path, metavar="DIR", help="folder for --roster (created if missing)")
    parser.add_argument("--salt", metavar="TEXT",
                        help="course salt of the students' seeds (--roster, --mark), e.g. os-2027")
    parser.add_argument("--mark", type=Path, metavar="CSV",
                        help="mark answers collected as text: a CSV with columns student, number, answer; "
                             "writes a verdict CSV to stdout (or --out FILE)")
    parser.add_argument("--stats", type=int, metavar="SEEDS",
                        help="print, per generator, how often its most common answer comes up over SEEDS seeds")
    return parser


def _unknown(names: list[str]) -> int:
    known = sorted(GENERATORS)
    print(f"memhotplug-workbook problems: unknown problem {', '.join(map(repr, names))}; known:\n  "
          + "\n  ".join(known), file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Print the problems (or the list of generators); 2 for an unknown generator name or a bad roster."""
    parser = _parser()
    args = parser.parse_args(argv)
    _load_all()
    known = sorted(GENERATORS)
    if args.list:
        width = max(map(len, known))
        for name in known:
            info = INFO[name]
            print(f"{name:<{width}}  {info.stars:<3} by hand: {info.by_hand:<6}  ch {info.chapter}  {describe(name)}")
        return 0
    unknown = [name for name in args.only if name not in GENERATORS]
    if unknown:
        return _unknown(unknown)
    only = list(dict.fromkeys(args.only)) or None
    if args.stats is not None:
        sys.stdout.write(shares_table(args.stats, only))
        return 0
    if args.roster is not None or args.mark is not None:
        if not args.salt:
            parser.error("--roster and --mark need --salt (the course salt the students' seeds come from)")
        from workbook.problems.batch import MARK_COLUMNS, mark_responses, write_roster
        from workbook.teaching.seeds import read_roster

        if args.mark is not None:
            with args.mark.open(newline="", encoding="utf-8-sig") as f:
                try:
                    rows = mark_responses(csv.DictReader(f), args.salt, args.exam, only)
                except (KeyError, ValueError) as err:
                    print(f"memhotplug-workbook problems: {args.mark}: {err}", file=sys.stderr)
                    return 2
            target = args.out.open("w", newline="", encoding="utf-8") if args.out else sys.stdout
            writer = csv.DictWriter(target, MARK_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
            if args.out:
                target.close()
            right = sum(r["verdict"] == "right" for r in rows)
            print(f"marked {len(rows)} answers: {right} right", file=sys.stderr)
            return 0
        if args.out is None:
            parser.error("--roster needs --out DIR")
        try:
            names = read_roster(args.roster)
        except (OSError, ValueError) as err:
            print(f"memhotplug-workbook problems: {err}", file=sys.stderr)
            return 2
        written = write_roster(names, args.out, args.salt, args.exam, only)
        for path in written:
            print(f"wrote {path}")
        print(f"{len(names)} students: a sheet each in {args.out / 'sheets'}; the key in "
              f"{args.out / 'answer-key.csv'} (keep it, and the salt, away from the students)")
        return 0
    if args.seed is None:
        parser.error("the following arguments are required: --seed")
    sys.stdout.write(render(args.seed, only, answers=args.answers, exam=args.exam))
    return 0
