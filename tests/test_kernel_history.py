"""Chapter 11's version views: the table comes from workbook.kernel.CHANGES, the contrasts from the model."""
from __future__ import annotations

from widgets.kernel_history import changes_table, offline_with_slab, recorded_writes, switch_table
from workbook.kernel import CHANGES, changes_between


def test_changes_table_is_changes_between() -> None:
    rows = changes_table("5.10", "7.2").splitlines()[2:]
    assert len(rows) == len(changes_between("5.10", "7.2")) == len(CHANGES)
    assert rows[0].startswith("| 5.11 |") and any("| 6.8 |" in r and "6b8f0798b85a" in r for r in rows)
    assert len(changes_table("6.1", "6.6").splitlines()) - 2 == len(changes_between("6.1", "6.6"))


def test_switch_table() -> None:
    lines = switch_table(("5.10", "6.12", "7.2"), ("memmap_on_memory", "kpf_offline_reads_zero")).splitlines()
    assert lines[1].split() == ["memmap_on_memory", "-", "yes", "yes"]
    assert lines[2].split() == ["kpf_offline_reads_zero", "-", "-", "yes"]


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
