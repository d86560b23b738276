"""Exam sets: by-hand variants, worked derivations, hex answer keys, roster batches, the README's share table."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from workbook.problems import BY_HAND, GENERATORS, INFO, _load_all, generate
from workbook.problems import cli
from workbook.problems.batch import answer_shares, mark_responses

ROOT = Path(__file__).resolve().parent.parent
_load_all()
NAMES = sorted(GENERATORS)
#: the generators whose answer is an address or a pfn: the answer key prints them in hex
HEX = {"altmap-alloc", "pfn-of-address", "struct-page-address"}


def _written(answer: object) -> list[str]:
    """Ways a derivation may write ``answer``."""
    if isinstance(answer, tuple):
        return [", ".join(map(str, answer))] + [str(a) for a in answer]
    if isinstance(answer, bool):
        return [str(answer)]
    if isinstance(answer, int):
        return [str(answer), f"{answer:,}", f"{answer:#x}"]
    return [str(answer)]


@pytest.mark.parametrize("name", NAMES)
def test_exam_variants_are_by_hand_and_their_derivation_reaches_the_answer(name: str) -> None:
    for seed in range(40):
        p = generate(name, seed, exam=True)
        assert p.exam and p.by_hand, (name, seed)
        assert p.derivation, (name, seed)
        assert any(w in " ".join(p.derivation) for w in _written(p.answer)), (name, seed, p.derivation)
        again = generate(name, seed, exam=True)
        assert str(again) == str(p) and again.answer == p.answer
        assert " exam" in p.show().splitlines()[0]


@pytest.mark.parametrize("name", NAMES)
def test_by_hand_tags_match_the_default_variants(name: str) -> None:
    """The hand rules agree with the model wherever the tag says so ("some": on part of the seeds only)."""
    info = INFO[name]
    assert info.by_hand in BY_HAND and info.difficulty in (1, 2, 3) and re.fullmatch(r"\d\d", info.chapter)
    flags = [generate(name, seed).by_hand for seed in range(60)]
    if info.by_hand == "always":
        assert all(flags), name
    else:
        assert any(flags) and not all(flags), name


def test_derivations_in_the_teachers_copy() -> None:
    text = cli.render(3, ["dimm-eject", "online-zone"], answers=True)
    assert text.count("derivation:\n  1. ") == 2
    assert "ANSWER" not in cli.render(3, ["dimm-eject"], answers=False)


def test_exam_answer_key_prints_addresses_in_hex(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--seed", "8", "--exam", "--answers", *sum((["--only", n] for n in sorted(HEX)), [])]) == 0
    out = capsys.readouterr().out
    answers = re.findall(r"^ANSWER: (.*)$", out, re.M)
    assert len(answers) == 3 and all(re.fullmatch(r"0x[0-9a-f]+ \(\d+\)", a) for a in answers), answers


def test_list_shows_the_tags(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("walker-visits"))
    assert "**" in line and "by hand: some" in line and "ch 08" in line


def test_roster_batch_sheets_key_and_marking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "class.csv"
    roster.write_text("username,name\nalice,Alice A\nbob,Bob B\ncarol,Carol C\n")
    out = tmp_path / "exam"
    only = ["--only", "pfn-of-address", "--only", "dimm-eject", "--only", "online-zone"]
    assert cli.main(["--roster", str(roster), "--salt", "os-2027", "--exam", "--out", str(out), *only]) == 0
    assert sorted(p.name for p in (out / "sheets").iterdir()) == [
        "alice.json", "alice.md", "bob.json", "bob.md", "carol.json", "carol.md"]
    sheet = (out / "sheets" / "alice.md").read_text()
    assert "ANSWER" not in sheet and sheet.count("Answer: ____") == 3
    assert "answer" not in json.loads((out / "sheets" / "bob.json").read_text())["problems"][0]
    rows = list(csv.DictReader((out / "answer-key.csv").open()))
    assert [r["student"] for r in rows] == ["alice"] * 3 + ["bob"] * 3 + ["carol"] * 3
    assert len({r["seed"] for r in rows}) == 3                        # a seed of their own each
    pfn = next(r for r in rows if r["student"] == "bob" and r["problem"] == "pfn-of-address")
    assert re.fullmatch(r"0x[0-9a-f]+ \(\d+\)", pfn["answer"])
    # answers collected as text (a form, a spreadsheet) are marked with the same checks
    hexpfn = pfn["answer"].split()[0]
    zones = next(r for r in rows if r["student"] == "carol" and r["problem"] == "online-zone")["answer"]
    marked = mark_responses([{"student": "bob", "number": "1", "answer": hexpfn},
                             {"student": "carol", "number": "3", "answer": zones.upper().replace("N", "n")},
                             {"student": "alice", "number": "2", "answer": "memory99"},
                             {"student": "alice", "number": "1", "answer": ""}], "os-2027", exam=True, only=only[1::2])
    assert [m["verdict"] for m in marked] == ["right", "right", "wrong", "not answered"]
    with pytest.raises(SystemExit):
        cli.main(["--roster", str(roster), "--out", str(out)])            # no --salt
    assert "--salt" in capsys.readouterr().err


def test_readme_share_table_is_measured() -> None:
    """The README's most-common-answer table: recomputed here for the fast generators, 1,000 seeds each."""
    readme = (ROOT / "README.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z-]+)` \|.*$", readme, re.M)}
    assert set(NAMES) <= set(rows), "every generator has a row in the README's table"
    fast = ["altmap-alloc", "block-of-address", "memmap-size", "memory-block-size", "pfn-of-address"]
    for exam in (False, True):
        for share in answer_shares(1000, exam, fast):
            cells = [c.strip() for c in rows[share.name].strip("|").split("|")]
            column = 8 if exam else 5
            assert cells[column] == f"{share.top_share:.0%}", (share.name, exam, cells)
