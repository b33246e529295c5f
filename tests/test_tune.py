"""`memstall tune` against temporary roots: plan, refusals, apply, backups, persist, rollback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_cli
from memstall.parsers.zoneinfo import parse_zoneinfo
from test_tune_roots import OLD_KERNEL, STATE, fingerprint, make_root, vm


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


def tune(root: Path, *args: str) -> tuple[int, str, str]:
    r = run_cli("--root", str(root), "tune", *args)
    return r.code, r.out, r.err


def test_plan_writes_nothing_and_shows_the_kernels_current_watermarks(root: Path) -> None:
    before = fingerprint(root)
    code, out, err = tune(root, "plan", "--set", "vm.watermark_scale_factor=200", "--format", "json")
    assert (code, err) == (0, "")
    assert fingerprint(root) == before and not (root / STATE).exists()
    doc = json.loads(out)
    assert doc["changes"][0]["current"] == "10" and doc["changes"][0]["status"] == "change"
    # The "before" prediction must equal what the kernel itself printed in the capture.
    zones = {(z.node, z.zone): z for z in parse_zoneinfo((root / "proc/zoneinfo").read_text()).zones}
    assert doc["watermarks"]
    for w in doc["watermarks"]:
        wmin, low, high, _ = zones[(w["node"], w["zone"])].watermarks_without_boost()
        b = w["before"]
        assert (b["min_pages"], b["low_pages"], b["high_pages"]) == (wmin, low, high)
        assert w["after"]["high_pages"] >= w["before"]["high_pages"]


def test_plan_text(root: Path) -> None:
    code, out, _ = tune(root, "plan", "--set", "vm.watermark_scale_factor=200")
    assert code == 0
    assert "vm.watermark_scale_factor  10       200       change" in out
    assert "Predicted watermarks (pages, boost excluded):" in out
    assert "Nothing is written by a plan." in out
    # A --set change has no diagnose rationale to size its risk, but it still says what can go wrong.
    assert "\n  risk: Less memory for page cache: the low and high watermarks rise" in out
    code, out, _ = tune(root, "plan", "--set", "vm.page-cluster=2", "--format", "json")
    assert json.loads(out)["changes"][0]["risk"] == ""  # a knob memstall knows nothing about


def test_apply_without_yes_is_a_dry_run(root: Path) -> None:
    before = fingerprint(root)
    code, out, _ = tune(root, "apply", "--set", "vm.swappiness=10")
    assert code == 0 and "dry run: nothing was written; add --yes to apply" in out
    assert fingerprint(root) == before


@pytest.mark.parametrize(("setting", "fragment"), [
    ("vm.watermark_scale_factor=3001",
     "vm.watermark_scale_factor must be between 1 and 3000 on Linux 6.18 (got 3001)"),
    ("vm.no_such_knob=1", "vm.no_such_knob: no such sysctl here (proc/sys/vm/no_such_knob does not exist)"),
    ("vm.compact_memory=1", "vm.compact_memory is a one-shot trigger, not a setting"),
    ("vm.min_free_kbytes=7000000",
     "vm.min_free_kbytes = 7000000 is 28.4 % of MemTotal (24684096 kB): above 25%"),
])
def test_hard_refusals_even_with_force(root: Path, setting: str, fragment: str) -> None:
    before = fingerprint(root)
    code, _, err = tune(root, "apply", "--yes", "--force", "--set", setting)
    assert code == 2
    assert err.startswith("memstall: error: refused: ") and fragment in err
    assert "--force overrides" not in err
    assert fingerprint(root) == before


def test_knob_newer_than_the_kernel(tmp_path: Path) -> None:
    root = make_root(tmp_path, OLD_KERNEL)
    code, _, err = tune(root, "apply", "--yes", "--set", "vm.defrag_mode=1")
    assert code == 2 and err == (
        "memstall: error: refused: vm.defrag_mode: no such sysctl here (proc/sys/vm/defrag_mode does not "
        "exist): vm.defrag_mode does not exist before Linux 6.15 (this kernel: 6.1)\n")


def test_read_only_key_refused(root: Path) -> None:
    (root / "proc/sys/vm/swappiness").chmod(0o444)
    code, _, err = tune(root, "apply", "--yes", "--force", "--set", "vm.swappiness=10")
    assert code == 2 and "vm.swappiness is read-only (proc/sys/vm/swappiness has no write permission)" in err


@pytest.mark.parametrize(("setting", "fragment"), [
    ("vm.vfs_cache_pressure=0", "vm.vfs_cache_pressure = 0: the kernel never reclaims dentries and inodes"),
    ("vm.min_free_kbytes=1300000",
     "vm.min_free_kbytes = 1300000 is 5.3 % of MemTotal (24684096 kB), above the 5%"),
    ("vm.min_free_kbytes=512", "vm.min_free_kbytes = 512 is below 1024 kB"),
    ("vm.watermark_scale_factor=2000", "vm.watermark_scale_factor = 2000 keeps 20 % of every zone"),
    ("vm.page-cluster=2", "memstall knows no range or safety rule for vm.page-cluster"),
])
def test_judgement_calls_need_force(root: Path, setting: str, fragment: str) -> None:
    code, _, err = tune(root, "apply", "--yes", "--set", setting)
    assert code == 2 and fragment in err and "(--force overrides this judgement call)" in err
    code, _out, err = tune(root, "apply", "--yes", "--force", "--set", setting)
    assert (code, err) == (0, ""), err
    key, value = setting.split("=")
    assert vm(root, key[3:]) == value + "\n"


def test_apply_writes_backs_up_and_records(root: Path) -> None:
    old = {n: (root / "proc/sys/vm" / n).read_bytes() for n in ("watermark_scale_factor", "swappiness")}
    code, out, err = tune(root, "apply", "--yes", "--set", "vm.watermark_scale_factor=20",
                          "--set", "vm.swappiness=10")
    assert (code, err) == (0, "")
    assert vm(root, "watermark_scale_factor") == "20\n" and vm(root, "swappiness") == "10\n"
    txs = sorted((root / STATE / "tx").iterdir())
    assert len(txs) == 1 and txs[0].name in out
    record = json.loads((txs[0] / "tx.json").read_text())
    assert record["status"] == "applied" and record["format"] == "memstall.tune.tx/1"
    for change in record["changes"]:
        name = change["key"].split("/")[-1]
        assert (txs[0] / "before" / change["backup"]).read_bytes() == old[name]
    assert oct((txs[0] / "tx.json").stat().st_mode & 0o777) == "0o600"
    code, hist, _ = tune(root, "history")
    assert code == 0 and txs[0].name in hist and "vm.swappiness 60 -> 10" in hist


def test_unchanged_value_is_not_written(root: Path) -> None:
    code, _, err = tune(root, "apply", "--yes", "--set", "vm.watermark_scale_factor=10")
    assert code == 2 and "nothing to apply: every value is already in place" in err


def test_persist_writes_drop_in_atomically_with_header(root: Path) -> None:
    code, _out, err = tune(root, "apply", "--yes", "--persist", "--set", "vm.watermark_scale_factor=20")
    assert (code, err) == (0, "")
    path = root / "etc/sysctl.d/90-memstall.conf"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    text = path.read_text()
    assert text.startswith("# Written by memstall ")
    assert "\nvm.watermark_scale_factor = 20\n" in text
    assert [p.name for p in path.parent.iterdir()] == ["90-memstall.conf"]  # no temp file left
    # A second transaction keeps the first one's key.
    code, _, _ = tune(root, "apply", "--yes", "--persist", "--set", "vm.swappiness=10")
    text = path.read_text()
    assert code == 0 and "vm.watermark_scale_factor = 20" in text and "vm.swappiness = 10" in text


def test_persist_refuses_a_symlink_and_changes_nothing(root: Path) -> None:
    (root / "etc/sysctl.d/90-memstall.conf").symlink_to("/dev/null")
    before = fingerprint(root)
    code, _, err = tune(root, "apply", "--yes", "--persist", "--set", "vm.swappiness=10")
    assert code == 4
    assert "etc/sysctl.d/90-memstall.conf is a symlink (to /dev/null): refusing to write through it" in err
    assert fingerprint(root) == before


def test_precedence_warnings_name_the_files(root: Path) -> None:
    (root / "etc/sysctl.conf").write_text("vm.watermark_scale_factor = 50\n")
    (root / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")
    (root / "etc/sysctl.d/60-admin.conf").write_text("# admin\nvm.swappiness = 30\n")
    code, out, _ = tune(root, "apply", "--yes", "--persist", "--set", "vm.watermark_scale_factor=20",
                        "--set", "vm.swappiness=10")
    assert code == 0
    assert ("warning: etc/sysctl.d/99-sysctl.conf:1 overrides vm.watermark_scale_factor = 50 at boot "
            "(applied after 90-memstall.conf; memstall sets 20)") in out
    assert "warning: 90-memstall.conf overrides vm.swappiness = 30 set in etc/sysctl.d/60-admin.conf:2" in out
    code, out, _ = tune(root, "verify")
    assert code == 1
    assert "drift: vm.watermark_scale_factor: at boot etc/sysctl.d/99-sysctl.conf:1 sets 50" in out


def test_rollback_is_byte_exact_including_an_old_drop_in(root: Path) -> None:
    old = root / "etc/sysctl.d/90-memstall.conf"
    old.write_bytes(b"# hand-written, odd spacing\r\nvm.swappiness=33\n\n")
    old.chmod(0o600)
    (root / "proc/sys/vm/min_free_kbytes").write_bytes(b"67584\n")
    before = fingerprint(root)
    code, _, err = tune(root, "apply", "--yes", "--persist", "--set", "vm.watermark_scale_factor=150",
                        "--set", "vm.min_free_kbytes=90112", "--set", "vm.extfrag_threshold=700")
    assert (code, err) == (0, "")
    assert fingerprint(root) != before
    code, out, err = tune(root, "rollback")
    assert (code, err) == (0, "")
    assert "restored the previous etc/sysctl.d/90-memstall.conf" in out
    assert fingerprint(root) == before


def test_rollback_removes_a_drop_in_that_did_not_exist(root: Path) -> None:
    before = fingerprint(root)
    assert tune(root, "apply", "--yes", "--persist", "--set", "vm.swappiness=1")[0] == 0
    code, out, _ = tune(root, "rollback")
    assert code == 0 and "removed etc/sysctl.d/90-memstall.conf" in out
    assert fingerprint(root) == before
    code, _, err = tune(root, "rollback")
    assert code == 2 and "nothing to roll back" in err


def test_rollback_of_an_older_transaction_needs_force(root: Path) -> None:
    tune(root, "apply", "--yes", "--set", "vm.swappiness=1")
    first = next((root / STATE / "tx").iterdir()).name
    tune(root, "apply", "--yes", "--set", "vm.swappiness=2")
    code, _, err = tune(root, "rollback", first)
    assert code == 2 and "changed the same keys after" in err
    assert tune(root, "rollback")[0] == 0 and vm(root, "swappiness") == "1\n"
    assert tune(root, "rollback", first)[0] == 0 and vm(root, "swappiness") == "60\n"


def test_verify_reports_running_drift_and_edited_drop_in(root: Path) -> None:
    tune(root, "apply", "--yes", "--persist", "--set", "vm.swappiness=10")
    code, out, _ = tune(root, "verify")
    assert code == 0 and "no drift" in out
    (root / "proc/sys/vm/swappiness").write_text("77\n")
    with (root / "etc/sysctl.d/90-memstall.conf").open("a") as f:
        f.write("vm.extfrag_threshold = 400\n")
    code, out, _ = tune(root, "verify", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["drifted"]
    assert doc["problems"] == ["etc/sysctl.d/90-memstall.conf was edited since memstall wrote it"]
    rows = {k["name"]: k for k in doc["keys"]}
    assert rows["vm.swappiness"]["problems"][0].startswith("running 77, not the 10 memstall applied in ")
    assert rows["vm.extfrag_threshold"]["applied"] is None


def test_verify_without_persist_says_the_value_is_lost_at_reboot(root: Path) -> None:
    tune(root, "apply", "--yes", "--set", "vm.swappiness=10")
    code, out, _ = tune(root, "verify")
    assert code == 1
    assert ("no sysctl.d file sets it: the kernel default returns at reboot (applied without --persist)"
            in out)


def test_confirm_without_revert_after(root: Path) -> None:
    tune(root, "apply", "--yes", "--set", "vm.swappiness=10")
    tx = next((root / STATE / "tx").iterdir()).name
    code, _, err = tune(root, "confirm", tx)
    assert code == 2 and "was applied without --revert-after" in err


def test_state_dir_option_and_tarball_root(root: Path, tmp_path: Path) -> None:
    state = tmp_path / "elsewhere"
    assert tune(root, "apply", "--yes", "--state-dir", str(state), "--set", "vm.swappiness=5")[0] == 0
    assert (state / "tx").is_dir() and not (root / STATE).exists()
    tar = tmp_path / "x.tar"
    import tarfile
    with tarfile.open(tar, "w") as t:
        t.add(root / "proc", arcname="proc")
    code, _, err = tune(tar, "apply", "--yes", "--set", "vm.swappiness=7")
    assert code == 2 and "tune writes files, so it needs a directory" in err
    code, out, _ = tune(tar, "plan", "--set", "vm.swappiness=7")
    assert code == 0 and "vm.swappiness" in out


def test_bad_set_syntax(root: Path) -> None:
    code, _, err = tune(root, "plan", "--set", "vm.swappiness")
    assert code == 2 and err == ("memstall: error: --set takes KEY=VALUE, got 'vm.swappiness'\n"
                                 "hint: e.g. --set vm.watermark_scale_factor=20\n")


def test_broken_drop_in_is_a_parse_error(root: Path) -> None:
    (root / "etc/sysctl.d/90-memstall.conf").write_text("vm.swappiness = 1\nnot an assignment\n")
    before = fingerprint(root)
    code, _, err = tune(root, "apply", "--yes", "--persist", "--set", "vm.swappiness=10")
    assert code == 3 and err.startswith("memstall: error: etc/sysctl.d/90-memstall.conf:2: expected")
    assert "Traceback" not in err and fingerprint(root) == before
    assert os.listdir(root / STATE / "tx") == [] if (root / STATE / "tx").exists() else True


def test_without_set_uses_diagnose_and_says_when_it_recommends_nothing(root: Path) -> None:
    code, _, err = tune(root, "plan")
    assert code == 2
    assert err.startswith("memstall: error: memstall diagnose recommends no sysctl change here (")
    assert "hint: pass --set KEY=VALUE to plan a change of your own" in err


SEED = Path(__file__).parent / "fixtures" / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g"


def test_without_set_plans_exactly_what_diagnose_recommends() -> None:
    diag = run_cli("--root", str(SEED), "diagnose", "--format", "json")
    recs = json.loads(diag.out)["recommendations"]
    assert recs, "the seed capture must produce recommendations"
    code, out, err = tune(SEED, "plan", "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert [(c["name"], c["proposed"], c["rationale"]) for c in doc["changes"]] == [
        (r["setting"], r["proposed"], r["rationale"]) for r in recs]
    # Knobs the capture lacks are checked against the table, and said so.
    missing = [c["name"] for c in doc["changes"] if c["current"] is None]
    for name in missing:
        assert any(n.startswith(f"{name} is not in this capture") for n in doc["notes"])


def test_apply_never_assumes_a_knob_the_root_lacks(tmp_path: Path) -> None:
    root = make_root(tmp_path, SEED)
    assert not (root / "proc/sys/vm/dirty_bytes").exists()
    code, _, err = tune(root, "apply", "--yes", "--set", "vm.dirty_bytes=2662334464")
    assert code == 2 and "vm.dirty_bytes: no such sysctl here" in err


def test_verify_with_nothing_managed(root: Path) -> None:
    code, out, _ = tune(root, "verify")
    assert code == 0
    assert out == "memstall manages no setting here (no applied transaction, no 90-memstall.conf)\n"


def test_relative_root_and_unreadable_conf_entry(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "etc/sysctl.d/50-dir.conf").mkdir()  # not a file: skipped, as systemd-sysctl does
    monkeypatch.chdir(root.parent)
    code, _, err = tune(Path("root"), "apply", "--yes", "--persist", "--set", "vm.swappiness=10")
    assert (code, err) == (0, ""), err
    assert tune(Path("root"), "rollback")[0] == 0 and vm(root, "swappiness") == "60\n"


def test_unusable_state_dir_is_an_error_not_a_crash(root: Path, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    before = fingerprint(root)
    code, _, err = tune(root, "apply", "--yes", "--state-dir", str(afile), "--set", "vm.swappiness=10")
    assert code == 3 and err.startswith(f"memstall: error: {afile}: cannot keep transactions here (")
    assert "hint: --state-dir takes a writable directory" in err and "internal error" not in err
    # The state directory exists but a transaction cannot be created in it (/proc refuses
    # mkdir even for root): the backups are not on disk, so nothing may be written.
    state = tmp_path / "state"
    state.mkdir()
    (state / "tx").symlink_to("/proc")
    code, _, err = tune(root, "apply", "--yes", "--state-dir", str(state), "--set", "vm.swappiness=10")
    assert code == 4 and err.startswith(f"memstall: error: saving the backups under {state} failed: ")
    assert err.rstrip().endswith("nothing was changed")
    assert fingerprint(root) == before


def test_drop_in_comment_stays_one_line_whatever_the_rationale() -> None:
    from memstall.parsers.sysctl_conf import parse_sysctl_conf
    from memstall.tune.persist import render_drop_in

    data = render_drop_in({"vm/swappiness": "10"}, {"vm/swappiness": "first line\nsecond\r\n  third"}, "T1")
    conf = parse_sysctl_conf(data.decode(), "etc/sysctl.d/90-memstall.conf", strict=True)
    assert conf.values() == {"vm/swappiness": "10"}
    assert "# first line second third\nvm.swappiness = 10\n" in data.decode()


THP_DEFRAG = "sys/kernel/mm/transparent_hugepage/defrag"


def test_thp_defrag_advice_is_a_note_not_a_refused_sysctl(tmp_path: Path) -> None:
    """diagnose recommends a sysfs file for THP_DEFRAG_STALLS: tune must not present it as
    a missing sysctl (proc/sys/sys/...) nor let it block the sysctl changes."""
    seed = make_root(tmp_path / "seed", SEED)
    (seed / THP_DEFRAG).write_text("[always] defer madvise never\n")
    code, out, err = tune(seed, "plan", "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["changes"] and all(c["status"] == "change" for c in doc["changes"])
    assert all(not c["name"].startswith("sys.") for c in doc["changes"])
    assert any(n.startswith(f"diagnose also recommends /{THP_DEFRAG} = madvise (") for n in doc["notes"])
    from memstall.advice.recommendation import Recommendation
    from memstall.tune.plan import from_recommendations

    rec = Recommendation(THP_DEFRAG, "always", "madvise", "why", "fx", "r")
    requests, notes = from_recommendations([rec])
    assert requests == [] and notes == [
        f"diagnose also recommends /{THP_DEFRAG} = madvise (fx); it is a sysfs file, not a sysctl, so tune "
        f"leaves it out: echo madvise > /{THP_DEFRAG}, and set it at boot with your tuned profile or "
        "boot scripts"]


def test_persisted_dirty_bytes_zeroed_at_boot_by_a_later_dirty_ratio(root: Path) -> None:
    (root / "etc/sysctl.d/99-sysctl.conf").write_text("vm.dirty_ratio = 20\n")
    code, out, err = tune(root, "apply", "--yes", "--persist", "--set", "vm.dirty_bytes=2147483648")
    assert (code, err) == (0, "")
    assert ("warning: etc/sysctl.d/99-sysctl.conf:1 sets vm.dirty_ratio = 20 after 90-memstall.conf, "
            "which zeroes vm.dirty_bytes at boot (memstall sets 2147483648)") in out
    code, out, _ = tune(root, "verify", "--format", "json")
    rows = {k["name"]: k for k in json.loads(out)["keys"]}
    assert code == 1 and rows["vm.dirty_bytes"]["boot"] == "0"
    assert rows["vm.dirty_bytes"]["problems"] == [
        "at boot etc/sysctl.d/99-sysctl.conf:1 (vm.dirty_ratio = 20) sets 0"]


def test_rollback_keeps_a_copy_of_a_drop_in_edited_since(root: Path) -> None:
    before = fingerprint(root)
    assert tune(root, "apply", "--yes", "--persist", "--set", "vm.swappiness=10")[0] == 0
    drop_in = root / "etc/sysctl.d/90-memstall.conf"
    with drop_in.open("a") as f:
        f.write("# the admin's note\nvm.extfrag_threshold = 400\n")
    edited = drop_in.read_bytes()
    code, out, err = tune(root, "rollback")
    assert (code, err) == (0, "")
    tx = next((root / STATE / "tx").iterdir())
    assert (f"removed etc/sysctl.d/90-memstall.conf (it had been edited since {tx.name}; "
            "the edited copy is ") in out
    assert (tx / "edited-drop-in").read_bytes() == edited
    assert fingerprint(root) == before


def test_plan_persist_on_a_tarball_reads_its_sysctl_d(root: Path, tmp_path: Path) -> None:
    """Boot precedence comes from the capture itself, through the tarball Source: the
    99-sysctl.conf link (absolute, so inside the root), a mask to /dev/null, our drop-in."""
    import tarfile

    (root / "etc/sysctl.conf").write_text("vm.watermark_scale_factor = 50\n")
    (root / "etc/sysctl.d/99-sysctl.conf").symlink_to("/etc/sysctl.conf")
    (root / "usr/lib/sysctl.d").mkdir(parents=True)
    (root / "usr/lib/sysctl.d/60-vendor.conf").write_text("vm.swappiness = 30\n")
    (root / "etc/sysctl.d/60-vendor.conf").symlink_to("/dev/null")
    (root / "etc/sysctl.d/90-memstall.conf").write_text("vm.extfrag_threshold = 600\n")
    tar = tmp_path / "capture.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(root, arcname="memstall-snapshot-host")
    args = ("plan", "--persist", "--set", "vm.watermark_scale_factor=20", "--set", "vm.swappiness=10")
    from_dir, from_tar = tune(root, *args), tune(tar, *args)
    assert from_tar[0] == 0, from_tar[2]
    assert from_tar[1].replace(str(tar), "R") == from_dir[1].replace(str(root), "R")
    assert ("etc/sysctl.d/99-sysctl.conf:1 overrides vm.watermark_scale_factor = 50 at boot "
            "(applied after 90-memstall.conf; memstall sets 20)") in from_tar[1]
    assert "vm.swappiness = 30" not in from_tar[1]  # the vendor file is masked
    code, out, err = tune(tar, "export", "--format", "tuned", "--set", "vm.watermark_scale_factor=20")
    assert (code, err) == (0, "")
    assert "# warning: etc/sysctl.d/99-sysctl.conf:1 sets vm.watermark_scale_factor = 50" in out
