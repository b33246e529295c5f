"""`tune export --format sysctl|tuned|ansible`: each output parsed back by a real reader."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from conftest import run_cli
from memstall.parsers.sysctl_conf import parse_sysctl_conf
from test_tune_roots import fingerprint, make_root

SETS = ("--set", "vm.watermark_scale_factor=150", "--set", "vm.swappiness=10")
EXPECTED = {"vm.watermark_scale_factor": "150", "vm.swappiness": "10"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


def export(root: Path, fmt: str, *extra: str) -> str:
    before = fingerprint(root)
    r = run_cli("--root", str(root), "tune", "export", "--format", fmt, *SETS, *extra)
    assert (r.code, r.err) == (0, "")
    assert fingerprint(root) == before  # export never writes
    return r.out


def test_sysctl_format_is_a_valid_drop_in(root: Path) -> None:
    conf = parse_sysctl_conf(export(root, "sysctl"), "export", strict=True)
    assert {a.name: a.value for a in conf.assignments} == EXPECTED


def test_tuned_profile_includes_the_active_profile(root: Path) -> None:
    (root / "etc/tuned").mkdir(parents=True)
    (root / "etc/tuned/active_profile").write_text("throughput-performance\n")
    parser = configparser.ConfigParser(comment_prefixes=("#",))
    parser.read_string(export(root, "tuned"))
    assert parser["main"]["include"] == "throughput-performance"
    assert dict(parser["sysctl"]) == EXPECTED


def test_tuned_profile_includes_every_active_profile(root: Path) -> None:
    (root / "etc/tuned").mkdir(parents=True)
    (root / "etc/tuned/active_profile").write_text("virtual-guest sap-hana\n")
    parser = configparser.ConfigParser(comment_prefixes=("#",))
    parser.read_string(export(root, "tuned"))
    assert parser["main"]["include"] == "virtual-guest,sap-hana"


def test_tuned_profile_warns_about_sysctl_d_lines_tuned_reapplies(root: Path) -> None:
    (root / "etc/sysctl.d/60-admin.conf").write_text("# admin\nvm.swappiness = 30\n")
    (root / "usr/lib/sysctl.d").mkdir(parents=True)
    (root / "usr/lib/sysctl.d/50-vendor.conf").write_text("vm.watermark_scale_factor = 15\n")
    out = export(root, "tuned")
    assert ("# warning: etc/sysctl.d/60-admin.conf:2 sets vm.swappiness = 30, and tuned re-applies it after "
            "this profile (reapply_sysctl = 1)") in out
    assert "vm.watermark_scale_factor = 15" not in out  # tuned does not re-apply usr/lib/sysctl.d
    parser = configparser.ConfigParser(comment_prefixes=("#",))
    parser.read_string(out)
    assert dict(parser["sysctl"]) == EXPECTED


def test_tuned_profile_without_active_profile_says_so(root: Path) -> None:
    out = export(root, "tuned")
    assert "# no active tuned profile in etc/tuned/active_profile" in out
    assert not [line for line in out.splitlines() if line.startswith("include=")]


def test_ansible_tasks(root: Path) -> None:
    yaml = pytest.importorskip("yaml")
    tasks = yaml.safe_load(export(root, "ansible"))
    assert [t["ansible.posix.sysctl"]["name"] for t in tasks] == list(EXPECTED)
    for t in tasks:
        args = t["ansible.posix.sysctl"]
        assert args["value"] == EXPECTED[args["name"]]
        assert args["sysctl_file"] == "/etc/sysctl.d/90-memstall.conf"
        assert (args["state"], args["reload"]) == ("present", True)


def test_export_refuses_what_apply_refuses(root: Path) -> None:
    r = run_cli("--root", str(root), "tune", "export", "--format", "sysctl",
                "--set", "vm.vfs_cache_pressure=0")
    assert r.code == 2 and "vm.vfs_cache_pressure = 0" in r.err
    r = run_cli("--root", str(root), "tune", "export", "--set", "vm.vfs_cache_pressure=0", "--force")
    assert r.code == 0 and "vm.vfs_cache_pressure = 0" in r.out
