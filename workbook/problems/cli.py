"""``memhotplug-workbook problems --seed N``: print a seeded problem set, OSTEP style.

    memhotplug-workbook problems --seed 7                   # one problem of every generator
    memhotplug-workbook problems --seed 7 --answers         # ... with answers and explanations
    memhotplug-workbook problems --seed 7 --only memmap-size --only pfn-of-address
    memhotplug-workbook problems --list                     # the generators, one line each

The same seed always prints the same problems, so a class can share one number and compare
answers; ``--answers`` with that seed is the answer key.
"""
from __future__ import annotations

import argparse
import sys

from workbook.problems import GENERATORS, _load_all, problem_set

__all__ = ["describe", "main", "render"]

RULE = "=" * 72


def describe(name: str) -> str:
    """The first line of generator ``name``'s docstring (RST ````code```` written as ```code```)."""
    doc = (GENERATORS[name].__doc__ or "").strip()
    return doc.splitlines()[0].replace("``", "`") if doc else ""


def render(seed: int, names: list[str] | None = None, answers: bool = False) -> str:
    """The problem set of ``seed`` (every generator, or ``names`` in that order) as text."""
    problems = problem_set(seed, names)
    key = "answers shown" if answers else "answers hidden: add --answers to show them"
    lines = [f"memhotplug-workbook problems --seed {seed}: {len(problems)} problem"
             f"{'' if len(problems) == 1 else 's'} ({key})"]
    for number, problem in enumerate(problems, 1):
        lines += ["", RULE, f"Problem {number} of {len(problems)}: {problem.name}", RULE, "",
                  problem.show(answers=answers)]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memhotplug-workbook problems",
        description="Print a seeded problem set: ARG lines (the parameters), then the question. "
                    "The same seed gives the same problems.")
    parser.add_argument("--seed", type=int, metavar="N", help="seed of the problem set (required unless --list)")
    parser.add_argument("--answers", action="store_true", help="show each problem's answer and explanation")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="only this generator (repeatable); see --list")
    parser.add_argument("--list", action="store_true", help="list the generators with one line each and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the problems (or the list of generators); 2 for an unknown generator name."""
    parser = _parser()
    args = parser.parse_args(argv)
    _load_all()
    known = sorted(GENERATORS)
    if args.list:
        width = max(map(len, known))
        for name in known:
            print(f"{name:<{width}}  {describe(name)}")
        return 0
    if args.seed is None:
        parser.error("the following arguments are required: --seed")
    unknown = [name for name in args.only if name not in GENERATORS]
    if unknown:
        print(f"memhotplug-workbook problems: unknown problem {', '.join(map(repr, unknown))}; known:\n  "
              + "\n  ".join(known), file=sys.stderr)
        return 2
    sys.stdout.write(render(args.seed, list(dict.fromkeys(args.only)) or None, answers=args.answers))
    return 0
