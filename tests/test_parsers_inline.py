"""One-line edge cases per parser (procfs/insights style); files live in fixtures/samples."""

from __future__ import annotations

import pytest

from memstall.errors import ParseError
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.extfrag import parse_extfrag
from memstall.parsers.kthread_stat import parse_kthread_stat
from memstall.parsers.meminfo import parse_meminfo
from memstall.parsers.psi import parse_psi
from memstall.parsers.sysctl_vm import parse_sysctl_vm
from memstall.parsers.vmstat import parse_vmstat
from memstall.parsers.zoneinfo import parse_zoneinfo


def test_buddyinfo_tabs_crlf_and_blank_lines() -> None:
    info = parse_buddyinfo("\r\nNode 1,\tzone\tNormal\t5\t0\t2 \r\n\n")
    got = [(z.node, z.zone, z.free_blocks, z.free_pages) for z in info.zones]
    assert got == [(1, "Normal", (5, 0, 2), 13)]


def test_buddyinfo_error_names_the_given_path() -> None:
    with pytest.raises(ParseError) as info:
        parse_buddyinfo("Node 0, zone DMA 1\nbogus\n", path="snap/proc/buddyinfo")
    assert str(info.value) == ("snap/proc/buddyinfo:2: expected "
                               "'Node <n>, zone <name> <count per order>...', got 'bogus'")


ZONE_6X = """\
Node 0, zone   Normal
  pages free     24566
        boost    512
        min      3851
        low      4813
        high     5775
        promo    6737
        spanned  5505024
        present  5505024
        managed  229376
        cma      0
        protection: (0, 0, 0, 0, 0)
      nr_free_pages 24566
  pagesets
    cpu: 0
              count:    5767
              high:     10862
              batch:    63
              high_min: 1000
              high_max: 12000
  vm stats threshold: 16
  node_unreclaimable:  0
  start_pfn:           1048576
Node 0, zone  Movable
  pages free     0
        boost    0
        min      32
        low      32
        high     32
        promo    32
        spanned  0
        present  0
        managed  0
        protection: (0, 0, 0, 0, 0)
"""


def test_zoneinfo_6x_block_and_unpopulated_zone() -> None:
    normal, movable = parse_zoneinfo(ZONE_6X).zones
    assert (normal.boost_pages, normal.promo_pages, normal.cma_pages) == (512, 6737, 0)
    assert normal.watermarks_without_boost() == (3339, 4301, 5263, 6225)
    assert dict(normal.counters) == {"nr_free_pages": 24566}
    # pageset lines (count/high/batch/high_min/high_max) are per-CPU noise, not zone fields.
    assert dict(normal.extra) == {"vm stats threshold": 16, "node_unreclaimable": 0, "start_pfn": 1048576}
    assert normal.high_pages == 5775
    assert (movable.populated, movable.managed_pages, dict(movable.counters)) == (False, 0, {})


def test_zoneinfo_old_kernel_without_managed() -> None:
    # Before 3.8 there is no `managed` line: None, not zero.
    text = ("Node 0, zone   Normal\n  pages free 5\n min 1\n low 2\n high 3\n scanned 0\n"
            " spanned 10\n present 10\n")
    (zone,) = parse_zoneinfo(text).zones
    assert zone.managed_pages is None
    assert zone.boost_pages is None


def test_meminfo_per_node_prefix_and_unitless_counts() -> None:
    m = parse_meminfo("Node 0 MemTotal:       24523576 kB\nNode 0 HugePages_Free:      0\n",
                      path="sys/devices/system/node/node0/meminfo")
    assert (m.kib("MemTotal"), m.count("HugePages_Free"), m.kib("HugePages_Free")) == (24523576, 0, None)


def test_meminfo_parenthesised_names() -> None:
    assert parse_meminfo("Active(anon):     123 kB\n").kib("Active(anon)") == 123


def test_vmstat_keeps_unknown_counters() -> None:
    v = parse_vmstat("allocstall 3\nsome_future_counter 18446744073709551615\n")
    assert v.get("some_future_counter") == 2**64 - 1
    assert v.sum_zoned("allocstall") == 3
    zoned = parse_vmstat("pgscan_direct_normal 5\npgscan_direct_dma32 2\npgscan_direct_throttle 9\n")
    assert zoned.sum_zoned("pgscan_direct") == 7  # the throttle counter is not a zone


def test_psi_cpu_without_full_line() -> None:
    p = parse_psi("some avg10=0.23 avg60=1.03 avg300=0.95 total=10037402\n", path="proc/pressure/cpu")
    assert (p.some.avg60, p.some.total_us, p.full) == (1.03, 10037402, None)


def test_extfrag_all_printed_shapes() -> None:
    z = parse_extfrag("Node 0, zone   Normal -1.000  0.937  0.-500  0.-07  1.000 \n").zones[0]
    assert z.values_milli == (-1000, 937, -500, -7, 1000)


def test_kthread_stat_comm_with_spaces_and_parens() -> None:
    s = parse_kthread_stat("77 (a) b (c) R 2 0 0 0 -1 0 0 0 0 0 4 6 0 0 20 0 1 0 99 0 0\n")
    assert (s.pid, s.comm, s.state, s.cpu_ticks, s.starttime_ticks) == (77, "a) b (c", "R", 10, 99)


def test_sysctl_vm_lists_and_unknown_knobs_are_kept_as_text() -> None:
    s = parse_sysctl_vm({"lowmem_reserve_ratio": "256\t256\t32\t0\t0\n", "numa_zonelist_order": "Node\n"})
    assert s.int_list("lowmem_reserve_ratio") == (256, 256, 32, 0, 0)
    assert s.text("numa_zonelist_order") == "Node"
    assert s.int_value("numa_zonelist_order") is None
