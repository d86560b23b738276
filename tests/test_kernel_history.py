"""Chapter 11's version views: the table comes from workbook.kernel.CHANGES, the contrasts from the model."""
from __future__ import annotations

from widgets.kernel_history import changes_by_kernel, changes_table, offline_with_slab, recorded_writes
from workbook.kernel import CHANGES, changes_between


def test_changes_table_is_changes_between() -> None:
    rows = changes_table("5.10", "7.2").splitlines()[2:]
    assert len(rows) == len(changes_between("5.10", "7.2")) == len(CHANGES)
    assert rows[0].startswith("| 5.11 |") and any("| 6.8 |" in r and "6b8f0798b85a" in r for r in rows)
    assert len(changes_table("6.1", "6.6").splitlines()) - 2 == len(changes_between("6.1", "6.6"))


def test_changes_by_kernel() -> None:
    """Rows are changes in the kernel's words; a change later undone (PageReserved, 6.11) is not in the newer kernels."""
    lines = changes_by_kernel(("5.10", "6.1", "6.12", "7.2"),
                              ("memmap_on_memory", "selfhosted_reserved", "slab_mapping_aliases_movable")).splitlines()
    assert lines[0] == "| release | what changed | 5.10 | 6.1 | 6.12 | 7.2 | switch |" and len(lines) == 2 + 4

    def kernels_with(text: str) -> list[str]:
        row = next(ln for ln in lines if text in ln)
        return [c.strip() for c in row.split(" | ")[2:6]]
    assert kernels_with("memmap-on-memory merged") == ["-", "yes", "yes", "yes"]
    assert kernels_with("are PageReserved") == ["-", "yes", "-", "-"]
    assert kernels_with("no longer PageReserved") == ["-", "-", "yes", "yes"]
    assert kernels_with("struct slab") == ["-", "-", "yes", "-"]
    assert lines[-1].startswith("| 6.11 |") and lines[-1].endswith("| `selfhosted_reserved` |")


def test_slab_offline_per_kernel() -> None:
    """A slab that looks movable: 6.1 and 7.2 refuse at once, 6.12 retries until the writer is signalled."""
    assert [offline_with_slab(k, "off") for k in ("6.1", "6.12", "7.2")] == ["EBUSY", "EINTR (only when signalled)",
                                                                           "EBUSY"]
    assert offline_with_slab("6.12", "cpu") == "EBUSY"


def test_recorded_writes_read_scenario_json() -> None:
    six_one, six_twelve = recorded_writes("6.1", "F"), recorded_writes("6.12", "F")
    assert len(six_one) == len(six_twelve) == 5
    assert all("EBUSY" in w for w in six_one[:4]) and six_one[4].endswith("ok")
    assert six_twelve[0].endswith("EBUSY") and all("did not return" in w for w in six_twelve[1:4])
