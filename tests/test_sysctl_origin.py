"""analysis/sysctl_origin: systemd-sysctl's file order, masking, globs, drop-in conflicts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from memstall.analysis.sysctl_origin import (
    ConfFile,
    boot_order,
    drop_in_report,
    glob_matches,
    key_origin,
)
from memstall.parsers.sysctl_conf import parse_sysctl_conf


def cf(path: str, text: str | None, target: str | None = None) -> ConfFile:
    return ConfFile(path, None if text is None else parse_sysctl_conf(text, path), target)


def test_files_sorted_by_name_across_directories() -> None:
    order = boot_order([cf("etc/sysctl.d/20-b.conf", ""), cf("usr/lib/sysctl.d/10-a.conf", ""),
                        cf("run/sysctl.d/30-c.conf", ""), cf("lib/sysctl.d/15-x.conf", ""),
                        cf("usr/local/lib/sysctl.d/25-y.conf", ""), cf("etc/sysctl.d/README", "")])
    assert [f.path for f in order.files] == [
        "usr/lib/sysctl.d/10-a.conf", "lib/sysctl.d/15-x.conf", "etc/sysctl.d/20-b.conf",
        "usr/local/lib/sysctl.d/25-y.conf", "run/sysctl.d/30-c.conf"]


def test_same_name_higher_directory_wins() -> None:
    order = boot_order([cf("usr/lib/sysctl.d/50-x.conf", "vm.swappiness = 1"),
                        cf("run/sysctl.d/50-x.conf", "vm.swappiness = 2"),
                        cf("etc/sysctl.d/50-x.conf", "vm.swappiness = 3")])
    assert [f.path for f in order.files] == ["etc/sysctl.d/50-x.conf"]
    assert {(s.path, s.by) for s in order.shadowed} == {
        ("usr/lib/sysctl.d/50-x.conf", "etc/sysctl.d/50-x.conf"),
        ("run/sysctl.d/50-x.conf", "etc/sysctl.d/50-x.conf")}
    assert key_origin(order, "vm/swappiness").winner.value == "3"  # type: ignore[union-attr]


def test_dev_null_masks_vendor_file() -> None:
    order = boot_order([cf("usr/lib/sysctl.d/50-default.conf", "vm.swappiness = 30"),
                        cf("etc/sysctl.d/50-default.conf", None, target="dev/null")])
    assert order.files == ()
    assert order.shadowed[0].reason == "masked (symlink to /dev/null)"
    assert key_origin(order, "vm/swappiness").winner is None


def test_later_file_and_later_line_win() -> None:
    order = boot_order([cf("etc/sysctl.d/60-a.conf", "vm.swappiness = 5\nvm.swappiness = 6"),
                        cf("usr/lib/sysctl.d/10-vendor.conf", "vm.swappiness = 30")])
    origin = key_origin(order, "vm/swappiness")
    assert [s.value for s in origin.setters] == ["30", "5", "6"]
    assert origin.winner is not None and origin.winner.where == "etc/sysctl.d/60-a.conf:2"


def test_sysctl_conf_last_unless_linked() -> None:
    files = [cf("etc/sysctl.conf", "vm.swappiness = 1"), cf("etc/sysctl.d/95-z.conf", "vm.swappiness = 2")]
    order = boot_order(files)
    assert order.files[-1].path == "etc/sysctl.conf"
    assert "applied last by `sysctl --system`" in order.notes[0]
    linked = boot_order([*files, cf("etc/sysctl.d/99-sysctl.conf", "vm.swappiness = 1",
                                    target="etc/sysctl.conf")])
    assert [f.path for f in linked.files] == ["etc/sysctl.d/95-z.conf", "etc/sysctl.d/99-sysctl.conf"]
    assert key_origin(linked, "vm/swappiness").winner.path == "etc/sysctl.d/99-sysctl.conf"  # type: ignore[union-attr]


def test_explicit_beats_glob_regardless_of_order_and_exclusion() -> None:
    order = boot_order([cf("etc/sysctl.d/10-a.conf", "net.ipv4.conf.eth0.rp_filter = 0"),
                        cf("etc/sysctl.d/90-b.conf", "net.ipv4.conf.*.rp_filter = 2\n"
                                                     "-net.ipv4.conf.lo.rp_filter")])
    eth0 = key_origin(order, "net/ipv4/conf/eth0/rp_filter")
    assert eth0.winner is not None and eth0.winner.value == "0"
    assert eth0.skipped_globs[0].glob == "net.ipv4.conf.*.rp_filter"
    assert key_origin(order, "net/ipv4/conf/lo/rp_filter").winner is None
    em1 = key_origin(order, "net/ipv4/conf/em1/rp_filter")
    assert em1.winner is not None and em1.winner.glob == "net.ipv4.conf.*.rp_filter"


def test_drop_in_overridden_by_later_file_and_sysctl_conf() -> None:
    files = [cf("etc/sysctl.d/99-sysctl.conf", "vm.watermark_scale_factor = 50", target="etc/sysctl.conf"),
             cf("etc/sysctl.conf", "vm.watermark_scale_factor = 50")]
    notes = drop_in_report(files, {"vm/watermark_scale_factor": "20"})
    assert [n.message for n in notes] == [
        "etc/sysctl.d/99-sysctl.conf:1 overrides vm.watermark_scale_factor = 50 at boot "
        "(applied after 90-memstall.conf; memstall sets 20)"]
    assert notes[0].is_warning


def test_drop_in_overrides_admin_value_and_masks_vendor_file() -> None:
    files = [cf("etc/sysctl.d/60-admin.conf", "vm.min_free_kbytes = 90112"),
             cf("usr/lib/sysctl.d/90-memstall.conf", "vm.swappiness = 1"),
             cf("etc/sysctl.d/95-same.conf", "vm.extfrag_threshold = 400")]
    notes = drop_in_report(files, {"vm/min_free_kbytes": "131072", "vm/extfrag_threshold": "400"})
    assert [(n.kind, n.message) for n in notes] == [
        ("masks", "etc/sysctl.d/90-memstall.conf hides usr/lib/sysctl.d/90-memstall.conf (same file name)"),
        ("overrides", "90-memstall.conf overrides vm.min_free_kbytes = 90112 set in "
                      "etc/sysctl.d/60-admin.conf:1"),
        ("same-value", "etc/sysctl.d/95-same.conf:1 also sets vm.extfrag_threshold = 400 at boot "
                       "(applied after 90-memstall.conf; memstall sets 400)")]
    assert [n.is_warning for n in notes] == [True, True, False]


def test_drop_in_takes_key_out_of_glob() -> None:
    notes = drop_in_report([cf("usr/lib/sysctl.d/10-x.conf", "vm.dirty_*ratio = 5")],
                           {"vm/dirty_ratio": "20"})
    assert [n.kind for n in notes] == ["glob"]
    assert "vm.dirty_*ratio = 5 no longer applies to vm.dirty_ratio" in notes[0].message


def test_no_conflict_no_notes() -> None:
    assert drop_in_report([cf("etc/sysctl.d/10-x.conf", "kernel.pid_max = 4194304")],
                          {"vm/swappiness": "10"}) == ()


def test_glob_is_per_component() -> None:
    assert glob_matches("vm/*", "vm/swappiness")
    assert not glob_matches("vm/*", "vm/a/b")
    assert glob_matches("net/ipv[46]/conf/*/forwarding", "net/ipv6/conf/eth0/forwarding")


names = st.sampled_from(["10-a.conf", "50-b.conf", "90-memstall.conf", "99-z.conf"])
dirs = st.sampled_from(["etc/sysctl.d", "run/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d"])


@given(st.lists(st.tuples(dirs, names, st.integers(0, 9)), max_size=10))
def test_winner_is_last_file_by_name(entries: list[tuple[str, str, int]]) -> None:
    files = {f"{d}/{n}": cf(f"{d}/{n}", f"vm.swappiness = {v}") for d, n, v in entries}
    order = boot_order(files.values())
    origin = key_origin(order, "vm/swappiness")
    if not files:
        assert origin.winner is None
        return
    last_name = max(p.split("/")[-1] for p in files)
    rank = ["etc/sysctl.d", "run/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d"]
    expected = min((p for p in files if p.endswith("/" + last_name)),
                   key=lambda p: rank.index(p.rsplit("/", 1)[0]))
    assert origin.winner is not None and origin.winner.path == expected
    names_in_order = [f.path.split("/")[-1] for f in order.files]
    assert names_in_order == sorted(set(names_in_order))


def test_a_later_dirty_ratio_line_zeroes_our_dirty_bytes_at_boot() -> None:
    files = [cf("etc/sysctl.d/99-sysctl.conf", "vm.dirty_ratio = 20\nvm.dirty_background_ratio = 0")]
    notes = drop_in_report(files, {"vm/dirty_bytes": "2147483648", "vm/dirty_background_bytes": "1073741824"})
    assert [(n.kind, n.message) for n in notes] == [
        ("overridden", "etc/sysctl.d/99-sysctl.conf:1 sets vm.dirty_ratio = 20 after 90-memstall.conf, "
                       "which zeroes vm.dirty_bytes at boot (memstall sets 2147483648)"),
        # The background pair is zeroed by every write, 0 included.
        ("overridden", "etc/sysctl.d/99-sysctl.conf:2 sets vm.dirty_background_ratio = 0 after "
                       "90-memstall.conf, which zeroes vm.dirty_background_bytes at boot "
                       "(memstall sets 1073741824)")]
    # dirty_ratio = 0 once dirty_bytes zeroed it changes nothing: no warning.
    assert drop_in_report([cf("etc/sysctl.d/99-z.conf", "vm.dirty_ratio = 0")],
                          {"vm/dirty_bytes": "2147483648"}) == ()


def test_our_dirty_ratio_zeroes_an_admins_dirty_bytes() -> None:
    files = [cf("etc/sysctl.d/60-admin.conf", "vm.dirty_bytes = 4294967296")]
    notes = drop_in_report(files, {"vm/dirty_ratio": "15"})
    assert [(n.kind, n.message) for n in notes] == [
        ("overrides", "90-memstall.conf sets vm.dirty_ratio = 15, which zeroes vm.dirty_bytes = 4294967296 "
                      "set in etc/sysctl.d/60-admin.conf:1")]
    # Set after our file, the admin's dirty_bytes wins and zeroes ours instead.
    later = [cf("etc/sysctl.d/95-admin.conf", "vm.dirty_bytes = 4294967296")]
    assert [n.kind for n in drop_in_report(later, {"vm/dirty_ratio": "15"})] == ["overridden"]
