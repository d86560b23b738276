"""Chapter 10 check cells: answers the model and the captured real kernels agree on."""
from __future__ import annotations

import pytest

from widgets.capture_compare import machine_after_step
from widgets.checks_ch10 import check_node_memtotal, check_nr_memmap_pages, check_numactl_size


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_memtotal_and_numactl_after_online(kernel: str) -> None:
    assert repr(check_node_memtotal(129024, kernel=kernel)) == "right: 129,024 (the real kernel printed 129,024)"
    assert "never managed" in check_node_memtotal(131072, kernel=kernel).message
    assert check_numactl_size(126, kernel=kernel).ok
    assert "2 MiB of memmap" in check_numactl_size(128, kernel=kernel).message
    assert check_node_memtotal(0, kernel=kernel, step="05-offline").ok


def test_two_block_dimm_of_capture_k() -> None:
    """Capture K: one 4 GiB DIMM of two 2 GiB blocks; 6.12 self-hosts both memmaps, 6.1 neither."""
    k612 = check_node_memtotal(2 * (524288 - 8192) * 4, kernel="6.12", step="02-online-movable", scenario="K")
    assert repr(k612) == "right: 4,128,768 (the real kernel printed 4,128,768)"
    assert "one block only" in check_node_memtotal((1048576 - 8192) * 4, kernel="6.12", step="02-online-movable",
                                                   scenario="K").message
    assert check_numactl_size(4096, kernel="6.1", step="02-online-movable", scenario="K").ok
    assert "exactly one memory block" in check_numactl_size(4032, kernel="6.1", step="02-online-movable",
                                                             scenario="K").message
    assert check_numactl_size(4032, kernel="6.12", step="02-online-movable", scenario="K").ok
    assert check_nr_memmap_pages(16384, step="03-offline", scenario="K").ok
    assert "one block's memmap" in check_nr_memmap_pages(8192, step="03-offline", scenario="K").message
    assert "nr_memmap_boot_pages" in check_nr_memmap_pages(258048, step="03-offline", scenario="K").message


def test_nr_memmap_pages_lives_from_hot_add_to_hot_remove() -> None:
    assert check_nr_memmap_pages(512).ok and check_nr_memmap_pages(512, step="01-hotadd").ok
    assert check_nr_memmap_pages(0, step="06-hotremove").ok
    assert "offlining leaves" in check_nr_memmap_pages(0).message


def test_machine_after_step_rejects_unknown_steps() -> None:
    assert 32 in machine_after_step("6.12", "01-hotadd").blocks
    with pytest.raises(ValueError):
        machine_after_step("6.12", "99-nothing")
