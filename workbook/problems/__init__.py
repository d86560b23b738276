"""Seeded problem generators, in the spirit of the OSTEP homework simulators.

Each generator takes a ``seed``, builds one question from the model (never from a table
of stored answers), prints its parameters first and reveals the answer only on request:
``print(p)`` shows the question, ``p.show(answers=True)`` the worked answer, and
``p.check(value)`` says whether a learner's value is right and, if not, which kernel rule
it breaks.  The chapters' seeded exercises and ``memhotplug-workbook problems`` use the same
generators.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Verdict", "Problem", "GENERATORS", "register", "generate", "problem_set", "rng"]


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is right; if not, what is wrong and the rule it breaks."""

    ok: bool
    message: str
    rule: str = ""

    def __bool__(self) -> bool:
        """True when the answer is right."""
        return self.ok

    def __repr__(self) -> str:
        """``right: ...`` or ``not yet: ...`` with the rule on its own line."""
        head = f"{'right' if self.ok else 'not yet'}: {self.message}"
        return head if self.ok or not self.rule else f"{head}\nrule: {self.rule}"


@dataclass
class Problem:
    """One generated question with its parameters, answer and explanation."""

    name: str
    seed: int
    params: dict
    question: str
    answer: object
    explanation: str
    rule: str = ""
    mistakes: dict = field(default_factory=dict)   # wrong answer -> what it shows was misunderstood

    def show(self, answers: bool = False) -> str:
        """The problem as text: ``ARG`` lines first (OSTEP style), then the question, then maybe the answer."""
        lines = [f"ARG {self.name} seed={self.seed}"]
        lines += [f"ARG {k} = {v}" for k, v in self.params.items()]
        lines += ["", self.question]
        if answers:
            lines += ["", f"ANSWER: {self.answer}", self.explanation]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.show(answers=False)

    def check(self, value: object) -> Verdict:
        """Compare a learner's ``value`` with the answer."""
        if value is None:
            return Verdict(False, "not answered yet: replace None with your answer", self.rule)
        if value == self.answer:
            return Verdict(True, f"{value!r}")
        if _same_name(value, self.answer):
            # "ebusy" for EBUSY, " Movable" for Movable: the learner knew the answer
            return Verdict(True, f"{self.answer!r} (written {value!r})")
        try:
            hint = self.mistakes.get(value, "that is not it")
        except TypeError:                  # an unhashable answer (a list, a dict) is no known mistake
            hint = "that is not it"
        return Verdict(False, f"{value!r}: {hint}", self.rule)


def _same_name(value: object, answer: object) -> bool:
    """Two strings that name the same thing: equal after stripping blanks and ignoring case."""
    return (isinstance(value, str) and isinstance(answer, str)
            and value.strip().lower() == answer.strip().lower())


Generator = Callable[[int], Problem]
GENERATORS: dict[str, Generator] = {}


def register(name: str) -> Callable[[Generator], Generator]:
    """Register a generator ``fn(seed) -> Problem`` under ``name``."""
    def wrap(fn: Generator) -> Generator:
        GENERATORS[name] = fn
        return fn
    return wrap


def rng(seed: int, name: str) -> random.Random:
    """A random source that depends only on the seed and the generator's name (stable across runs)."""
    return random.Random(f"{name}:{seed}")


def _load_all() -> None:
    """Import every generator module of this package (they register themselves)."""
    import importlib
    import pkgutil
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def generate(name: str, seed: int) -> Problem:
    """One problem from the generator ``name``."""
    _load_all()
    try:
        return GENERATORS[name](seed)
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; known: {', '.join(sorted(GENERATORS))}") from None


def problem_set(seed: int, names: list[str] | None = None) -> list[Problem]:
    """One problem of every generator (or of ``names``), all from the same seed."""
    _load_all()
    return [GENERATORS[n](seed) for n in (names or sorted(GENERATORS))]
