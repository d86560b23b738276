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
from typing import Callable, Mapping

from .answers import format_answer, normalize

__all__ = ["Verdict", "Problem", "GeneratorInfo", "GENERATORS", "INFO", "register", "generate", "problem_set",
           "rng"]


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is right; if not, what is wrong and the rule it breaks."""

    ok: bool
    message: str
    rule: str = ""
    #: the wrong answers the check knows and what each shows was misunderstood (for the instructor's guide)
    mistakes: Mapping = field(default_factory=dict, compare=False, repr=False)

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
    #: the worked answer, one step per line (the teacher's copy prints it under the answer)
    derivation: list[str] = field(default_factory=list)
    #: "hex" for pfns and addresses: the answer key writes them 0x... (decimal)
    answer_format: str = ""
    #: False when working the answer out needs the model (e.g. where the kernel's own allocations land)
    by_hand: bool = True
    #: True for a variant drawn from the exam space (``generate(..., exam=True)``)
    exam: bool = False

    @property
    def answer_text(self) -> str:
        """The answer as the answer key writes it (hex for addresses and pfns)."""
        return format_answer(self.answer, self.answer_format)

    def show(self, answers: bool = False) -> str:
        """The problem as text: ``ARG`` lines first (OSTEP style), then the question, then maybe the answer."""
        lines = [f"ARG {self.name} seed={self.seed}" + (" exam" if self.exam else "")]
        lines += [f"ARG {k} = {v}" for k, v in self.params.items()]
        lines += ["", self.question]
        if answers:
            lines += ["", f"ANSWER: {self.answer_text}", self.explanation]
            if self.derivation:
                lines += ["derivation:"] + [f"  {i}. {step}" for i, step in enumerate(self.derivation, 1)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.show(answers=False)

    def check(self, value: object) -> Verdict:
        """Compare a learner's ``value`` with the answer."""
        if value is None:
            return Verdict(False, "not answered yet: replace None with your answer", self.rule, self.mistakes)
        written = value
        value = normalize(value, self.answer)
        if isinstance(value, bool) and not isinstance(self.answer, bool):
            return Verdict(False, f"{written!r}: the answer is not True/False", self.rule, self.mistakes)
        shown = self.answer_text if self.answer_format else repr(self.answer)
        if _equal(value, self.answer) or _same_name(value, self.answer):
            # "0x100042" for 1048642, "ebusy" for EBUSY, "ZONE_MOVABLE" for Movable: the learner knew the answer
            same = type(written) is type(self.answer) and _equal(written, self.answer)
            return Verdict(True, shown if same else f"{shown} (written {written!r})", mistakes=self.mistakes)
        try:
            hint = self.mistakes.get(value, "that is not it")
        except TypeError:                  # an unhashable answer (a list, a dict) is no known mistake
            hint = "that is not it"
        # a pfn or an address is echoed as the answer key writes it, 0x... (decimal), however it was typed
        hexed = (self.answer_format == "hex" and isinstance(value, int) and not isinstance(value, bool)
                 and value >= 0)
        shown_wrong = format_answer(value, "hex") if hexed else repr(written)
        return Verdict(False, f"{shown_wrong}: {hint}", self.rule, self.mistakes)


def _equal(value: object, answer: object) -> bool:
    """``value == answer`` as one truth value (a numpy array compared element-wise is no answer)."""
    try:
        return bool(value == answer)
    except (TypeError, ValueError):
        return False


def _same_name(value: object, answer: object) -> bool:
    """Two strings that name the same thing: equal after stripping blanks and ignoring case."""
    return (isinstance(value, str) and isinstance(answer, str)
            and value.strip().lower() == answer.strip().lower())


Generator = Callable[..., Problem]          # fn(seed, exam=False) -> Problem
GENERATORS: dict[str, Generator] = {}

#: How hand-solvable a generator's variants are: every one, only some (``problems --exam`` keeps those), none.
BY_HAND = ("always", "some", "never")


@dataclass(frozen=True)
class GeneratorInfo:
    """What a teacher needs to know to pick a generator for an exam."""

    name: str
    difficulty: int            # 1: one rule and arithmetic; 2: two rules or a kernel-version switch; 3: a sequence
    by_hand: str               # one of BY_HAND, for the default variants; exam variants are always by hand
    chapter: str               # the chapter whose seeded exercise uses it ("01", ...)

    @property
    def stars(self) -> str:
        """The difficulty as ``*``, ``**`` or ``***``."""
        return "*" * self.difficulty


INFO: dict[str, GeneratorInfo] = {}


def register(name: str, *, difficulty: int = 2, by_hand: str = "always",
             chapter: str = "") -> Callable[[Generator], Generator]:
    """Register a generator ``fn(seed, exam=False) -> Problem`` under ``name``, with its exam tags."""
    if difficulty not in (1, 2, 3) or by_hand not in BY_HAND:
        raise ValueError(f"{name}: difficulty 1-3 and by_hand in {BY_HAND}")

    def wrap(fn: Generator) -> Generator:
        GENERATORS[name] = fn
        INFO[name] = GeneratorInfo(name, difficulty, by_hand, chapter)
        return fn
    return wrap


def rng(seed: int, name: str, exam: bool = False) -> random.Random:
    """A random source that depends only on the seed and the generator's name (stable across runs).

    Exam variants come from a stream of their own, so adding them changed no default variant.
    """
    return random.Random(f"{name}:exam:{seed}" if exam else f"{name}:{seed}")


def _load_all() -> None:
    """Import every generator module of this package (they register themselves)."""
    import importlib
    import pkgutil
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def generate(name: str, seed: int, *, exam: bool = False) -> Problem:
    """One problem from the generator ``name``; ``exam=True`` draws from its exam space (by hand, wide answers)."""
    _load_all()
    try:
        fn = GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; known: {', '.join(sorted(GENERATORS))}") from None
    return fn(seed, exam=True) if exam else fn(seed)


def problem_set(seed: int, names: list[str] | None = None, *, exam: bool = False) -> list[Problem]:
    """One problem of every generator (or of ``names``), all from the same seed."""
    _load_all()
    return [generate(n, seed, exam=exam) for n in (names or sorted(GENERATORS))]
