"""`memstall logs`: formats, filters, compressed input, stdin, errors, --as-snapshot."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import json_keys, run_cli
from memstall.sources.kernlog import KmsgStream

CORPUS = Path(__file__).parent / "fixtures" / "kernlog" / "corpus"
SEED = CORPUS / "000-seed-cold-storage-4.9.log"
FC27 = CORPUS / "043-linuxmm-2017-4.13-fc27-failure-and-stalls-meminfo-suppressed.log"
DOM = CORPUS / "007-linuxmm-dom-worker-stall-syslog-4.9.13.log"


def test_text_lists_events_then_totals_and_zone_state() -> None:
    r = run_cli("logs", str(FC27))
    assert r.code == 0 and r.err == ""
    lines = r.out.splitlines()
    assert sum(" stall " in x or " failure " in x for x in lines[:5]) == 5
    assert lines[0].startswith("84074.853506  -  swapper/0[0]  failure  order=0  0x1284020  "
                               "GFP_ATOMIC|__GFP_COMP|__GFP_NOTRACK")
    assert "stall ms: p50 10311  p95 10743  max 10743" in r.out
    assert "5 allocation report(s); first seen 84074.853506, last seen 84083.219990" in r.out
    assert "node0  Normal   818572  1934512  2418140  2901768  below_min" in r.out


def test_text_flags_an_inferred_node_in_both_zone_tables() -> None:
    """4.9 KERN_CONT breakage (007) drops `Node 0 ` from zone and buddy lines: both tables say
    `node0?`; the seed log prints its nodes and says `node0`/`node1`."""
    out = run_cli("logs", str(DOM)).out
    buddy = out[out.index("free blocks per order"):].splitlines()[3:]
    assert [row.split()[:2] for row in buddy] == [["node0?", "DMA"], ["node0?", "DMA32"]]
    assert [row.split()[0] for row in out.splitlines() if " DMA32 " in row] == ["node0?", "node0?"]
    seed = run_cli("logs", str(SEED)).out
    buddy = seed[seed.index("free blocks per order"):].splitlines()[3:]
    assert [row.split()[0] for row in buddy if row.strip()] == ["node0", "node0", "node0", "node1"]


def test_json_schema() -> None:
    r = run_cli("logs", "--format", "json", str(SEED), str(DOM))
    doc = json.loads(r.out)
    assert doc["schema"] == "memstall.logs/1"
    assert set(doc) == {"schema", "events", "standalone_mem_info", "summary", "skipped"}
    assert [e["comm"] for e in doc["events"]] == ["python", "DOM Worker", "DOM Worker"]
    e = doc["events"][0]
    assert {k: e[k] for k in ("kind", "order", "gfp_mode", "gfp_flags", "gfp_flags_source", "stall_ms",
                              "pid", "cpu", "host", "time", "uptime_s", "kernel_version")} == {
        "kind": "stall", "order": 1, "gfp_mode": "0x26040c0",
        "gfp_flags": ["GFP_KERNEL", "__GFP_COMP", "__GFP_NOTRACK"], "gfp_flags_source": "log",
        "stall_ms": 15412, "pid": 1467, "cpu": 4, "host": "MyHOST", "time": "4395803.602414",
        "uptime_s": 4395803.602414, "kernel_version": "4.9.0-8-amd64"}
    normal = e["mem_info"]["zones"][2]
    assert (normal["free_kb"], normal["min_kb"], normal["watermark_state"]) == (43880, 44456, "below_min")
    assert e["mem_info"]["buddy"][3]["node"] == 1 and e["mem_info"]["buddy"][3]["adds_up"] is True
    assert e["call_trace"][:2] == ["dump_stack", "warn_alloc"]
    dom_zone = doc["events"][1]["mem_info"]["zones"][0]
    assert (dom_zone["node"], dom_zone["node_inferred"]) == (0, True)
    s = doc["summary"]
    assert s["by_kind"] == {"stall": 3} and s["by_host"] == {"x61s-44a5": 2, "MyHOST": 1}
    assert s["stall_ms"] == {"p50": 11024, "p95": 15412, "max": 15412}
    assert doc["skipped"]["lines"] == sum(doc["skipped"]["reasons"].values())


def test_jsonl_one_event_per_line() -> None:
    r = run_cli("logs", "--format", "jsonl", str(FC27))
    events = [json.loads(x) for x in r.out.splitlines()]
    assert [e["pid"] for e in events] == [0, 5482, 5165, 5163, 28073]
    assert [e["mem_info"] is not None for e in events] == [False, True, False, False, True]


def test_hex_only_mode_is_decoded_with_the_logged_kernel_version() -> None:
    e = json.loads(run_cli("logs", "--format", "jsonl",
                           str(CORPUS / "021-spl217-3.8-no-timestamps-percpu.log")).out)
    assert (e["gfp_flags"], e["gfp_flags_source"], e["gfp_flags_guessed"]) == (
        ["GFP_KERNEL", "__GFP_NORETRY"], "decoded:3.8-3.15", False)


def test_hex_only_mode_without_version_is_guessed_or_taken_from_kernel_flag() -> None:
    log = str(CORPUS / "032-stackoverflow4343249-arm-13-orders-exception-stack.log")
    guessed = json.loads(run_cli("logs", "--format", "jsonl", log).out)
    assert guessed["gfp_flags_guessed"] is True and guessed["gfp_flags_source"].startswith("decoded:")
    given = json.loads(run_cli("logs", "--format", "jsonl", "--kernel", "2.6.32", log).out)
    assert given["gfp_flags_guessed"] is False
    assert given["gfp_flags"] == ["GFP_KERNEL"]


@pytest.mark.parametrize(("args", "pids"), [
    (("--kind", "failure"), [0]),
    (("--kind", "stall", "--kind", "failure"), [0, 5482, 5165, 5163, 28073]),
    (("--since", "84082.3"), [5163, 28073]),
    (("--until", "84082.1"), [0, 5482]),
    (("--since", "84082.0", "--until", "84082.3"), [5482, 5165]),
])
def test_filters(args: tuple[str, ...], pids: list[int]) -> None:
    r = run_cli("logs", "--format", "jsonl", *args, str(FC27))
    assert [json.loads(x)["pid"] for x in r.out.splitlines()] == pids


def test_host_and_wall_clock_filters() -> None:
    both = [str(SEED), str(DOM)]
    r = run_cli("logs", "--format", "jsonl", "--host", "x61s-44a5", *both)
    assert [json.loads(x)["stall_ms"] for x in r.out.splitlines()] == [10646, 11024]
    dmesg_t = str(CORPUS / "002-linuxmm-ixgbe-dmesgT-wrapped.log")
    assert run_cli("logs", "--format", "jsonl", "--since", "2017-08-11T16:51", dmesg_t).out.count("\n") == 1
    assert run_cli("logs", "--format", "jsonl", "--since", "2017-08-11T16:52", dmesg_t).out == ""


@pytest.mark.parametrize(("fixture", "args", "count"), [
    ("syslog-no-uptime.txt", ("--since", "2019-02-28T11:16"), 1),  # `Feb 28 11:16:37`: the bound's year
    ("syslog-no-uptime.txt", ("--since", "2019-02-28T11:17"), 0),
    ("syslog-no-uptime.txt", ("--until", "2019-02-28T11:16:37+05:00"), 1),  # wall clocks compared
    ("journalctl-short-iso.txt", ("--until", "2019-02-28T10:16:37+00:00"), 1),  # +0100 stamp, inclusive
    ("journalctl-short-iso.txt", ("--until", "2019-02-28T10:16:36Z"), 0),
    ("journalctl-short-iso.txt", ("--since", "2019-02-28T11:16:37"), 1),  # no zone: wall clocks
    ("journalctl-short-iso.txt", ("--since", "20"), 0),  # uptime bound: the event has no uptime
])
def test_wall_clock_filters_on_syslog_and_iso_stamps(fixture: str, args: tuple[str, ...], count: int) -> None:
    log = Path(__file__).parent / "fixtures" / "kernlog" / "formats" / fixture
    r = run_cli("logs", "--format", "jsonl", *args, str(log))
    assert r.code == 0 and r.out.count("\n") == count


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, bz2.compress], ids=["gz", "xz", "bz2"])
def test_compressed_logs_give_the_same_output(tmp_path: Path, compress: object) -> None:
    packed = tmp_path / "log.any"  # detected by content, not by name
    packed.write_bytes(compress(FC27.read_bytes()))  # type: ignore[operator]
    plain = run_cli("logs", "--format", "jsonl", str(FC27)).out
    assert run_cli("logs", "--format", "jsonl", str(packed)).out.replace(str(packed), str(FC27)) == plain


def test_zstd_log(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard", reason="the zstd extra is not installed")
    packed = tmp_path / "log.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(SEED.read_bytes()))
    r = run_cli("logs", "--format", "jsonl", str(packed))
    assert json.loads(r.out)["stall_ms"] == 15412


def test_corrupt_compressed_log_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(SEED.read_bytes())[:200])
    r = run_cli("logs", str(bad))
    assert r.code == 3 and "Traceback" not in r.err
    assert r.err.startswith(f"memstall: error: {bad}: cannot be decompressed (gzip)")


def test_zstd_two_frames_are_one_log(tmp_path: Path) -> None:
    """`cat a.zst b.zst > c.zst` is a valid zstd file: every frame is read."""
    zstandard = pytest.importorskip("zstandard", reason="the zstd extra is not installed")
    packed = tmp_path / "two.zst"
    frame = zstandard.ZstdCompressor().compress(SEED.read_bytes())
    packed.write_bytes(frame + frame)
    r = run_cli("logs", "--format", "jsonl", str(packed))
    assert [json.loads(line)["stall_ms"] for line in r.out.splitlines()] == [15412, 15412]


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_zstd_log_is_a_one_line_error(tmp_path: Path, damage: str) -> None:
    """Issue 9: a truncated .zst gave 0 events and exit 0 (gzip and xz said so); a corrupt one too."""
    zstandard = pytest.importorskip("zstandard", reason="the zstd extra is not installed")
    whole = zstandard.ZstdCompressor().compress(SEED.read_bytes())
    bad = tmp_path / "bad.zst"
    bad.write_bytes(whole[: len(whole) // 2] if damage == "truncated" else whole[:4] + bytes(range(200)))
    r = run_cli("logs", str(bad))
    assert (r.code, r.out) == (3, "")
    assert r.err.startswith(f"memstall: error: {bad}: cannot be decompressed (zstd): ")
    assert len(r.err.splitlines()) == 1


def test_a_report_after_nul_padding_is_found(tmp_path: Path) -> None:
    """Issue 9: after a crash a log holds NUL bytes where the data never reached the disk; the
    report written after the reboot, on the same line as the padding, was lost."""
    padded = tmp_path / "kern.log"
    padded.write_bytes(b"\0" * 4096 + SEED.read_bytes())
    r = run_cli("logs", "--format", "jsonl", str(padded))
    assert json.loads(r.out)["stall_ms"] == 15412


def test_a_long_line_does_not_grow_the_prefilter_unbounded(tmp_path: Path) -> None:
    """Issue 9: grep holds a whole line, and a 5 GB file without a newline made it grow to
    4.6 GB. Its address space is capped; past the cap the file is read block by block and the
    report after the line is still found. The cap is lowered to 64 MiB for a 96 MiB line, and
    the largest child's peak RSS (grep's) must stay under it."""
    big = tmp_path / "kern.log"
    with big.open("wb") as f:
        f.write(b"page allocation " * (6 << 20))  # 96 MiB, one line, matching the prefilter
        f.write(b"\n" + SEED.read_bytes())
    script = (
        "import io, json, resource, sys\n"
        "from memstall.cli import Io, main\n"
        "from memstall.sources import prefilter\n"
        "prefilter.GREP_MEMORY_BYTES = 64 << 20\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        "code = main(['logs', '--format', 'jsonl', sys.argv[1]], Io(out, err))\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss << 10\n"
        "print(json.dumps({'code': code, 'out': out.getvalue(), 'err': err.getvalue(), 'peak': peak}))\n")
    run = subprocess.run([sys.executable, "-c", script, str(big)], capture_output=True, text=True,
                         check=True, timeout=300)
    r = json.loads(run.stdout)
    assert (r["code"], r["err"]) == (0, "")
    assert [json.loads(line)["stall_ms"] for line in r["out"].splitlines()] == [15412]
    assert 0 < r["peak"] < 64 << 20, "grep ran (a child) and stayed under its cap"


def test_closed_stdin_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """`memstall logs - <&-`: Python sets sys.stdin to None (exit 70 before)."""
    monkeypatch.setattr(sys, "stdin", None)
    r = run_cli("logs", "-")
    assert r.code == 3
    assert r.err == "memstall: error: <stdin>: standard input is closed\nhint: pipe a log into it\n"


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SEED.read_bytes())))
    r = run_cli("logs", "--format", "jsonl", "-")
    assert json.loads(r.out)["source"] == "<stdin>"


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: p, "no such file"),
    (lambda p: (p.mkdir(), p)[1], "is a directory, expected a log file"),
])
def test_missing_file_and_directory(tmp_path: Path, make: object, reason: str) -> None:
    path = make(tmp_path / "x")  # type: ignore[operator]
    r = run_cli("logs", str(SEED), str(path))
    assert r.code == 3 and r.out == ""  # nothing printed before the error
    assert r.err == f"memstall: error: {path}: {reason}\n"


def test_endless_character_device_is_a_one_line_error() -> None:
    r = run_cli("logs", "/dev/zero")  # read to its end, it would never end
    assert r.code == 3 and r.out == ""
    assert r.err == "memstall: error: /dev/zero: is a character device, expected a log file or /dev/kmsg\n"
    r = run_cli("logs", "--format", "json", "/dev/null")
    assert r.code == 0 and json.loads(r.out)["skipped"]["lines"] == 0


def test_kmsg_stream_stops_at_the_end_of_the_buffer() -> None:
    """Records come one per read, and the read that would block (EAGAIN) is the end: the
    write end stays open, as /dev/kmsg never ends."""
    rd, wr = os.pipe()
    try:
        records = [b"4,7,%d,-;line %d\n" % (i * 1000, i) for i in range(50)]
        os.write(wr, b"".join(records))
        stream = KmsgStream(rd)
        first = stream.read(8)
        assert first.startswith(records[0]) and stream.read() == b"".join(records)[len(first):]
        assert stream.read(1 << 20) == b""
        stream.close()
        stream.close()  # LogReader closes on end of scan and again at exit
    finally:
        os.close(wr)


@pytest.mark.live
def test_dev_kmsg_is_read_to_its_end_not_followed() -> None:
    # Following /dev/kmsg would block forever: the subprocess timeout is a hang guard.
    r = subprocess.run([sys.executable, "-m", "memstall", "logs", "--format", "json", "/dev/kmsg"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["skipped"]["lines"] > 0  # the boot messages


def test_empty_file_and_binary_junk(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.log"
    junk.write_bytes(bytes(range(256)) * 400 + b"\x00" * 5000)
    r = run_cli("logs", "--format", "json", str(empty), str(junk))
    assert r.code == 0 and r.err == ""
    doc = json.loads(r.out)
    assert doc["events"] == [] and doc["skipped"]["lines"] > 0


def test_one_megabyte_line(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"A" * (1 << 20) + b"\n" + b"B" * (1 << 20) + b" page allocation\n" + SEED.read_bytes()
                    + b"C" * (3 << 20))
    doc = json.loads(run_cli("logs", "--format", "json", str(log)).out)
    assert [e["stall_ms"] for e in doc["events"]] == [15412]
    assert doc["skipped"]["cut_lines"] >= 2  # the line with a trigger word, and the unfinished last one
    assert doc["skipped"]["lines"] == sum(doc["skipped"]["reasons"].values())


def test_bad_flags() -> None:
    assert run_cli("logs", "--since", "yesterday", str(SEED)).code == 2
    r = run_cli("logs", "--kernel", "banana", str(SEED))
    assert r.code == 2 and r.err.startswith("memstall: error: --kernel 'banana'")


@pytest.mark.parametrize(("flag", "value"), [("--since", "nan"), ("--until", "inf"), ("--since", "-inf"),
                                             ("--kernel", "")])
def test_bounds_that_compare_with_nothing_are_refused(flag: str, value: str) -> None:
    """`--since nan` let every event through (every comparison is false), `--kernel ''` was
    taken as no --kernel: one-line usage errors now."""
    r = run_cli("logs", f"{flag}={value}", str(SEED))
    assert r.code == 2 and r.out == ""
    assert r.err.startswith(f"memstall: error: {flag} {value!r}: expected ")


def test_as_snapshot_round_trips_through_root(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    r = run_cli("logs", str(SEED), "--as-snapshot", str(target))
    assert r.code == 0 and f"wrote {target}" in r.out
    manifest = json.loads((target / "MANIFEST.json").read_text())
    assert manifest["source"] == "memstall logs --as-snapshot" and manifest["edited"]
    assert manifest["kernel"] == "4.9.0-8-amd64" and manifest["numa_nodes"] == 2
    doc = json.loads(run_cli("show", "watermarks", "--root", str(target), "--format", "json").out)
    zones = {(z["node"], z["zone"]): z for z in doc["zones"]}
    assert (zones[0, "Normal"]["min_pages"], zones[0, "Normal"]["managed_pages"]) == (11114, 32502131)
    frag = run_cli("show", "frag", "--root", str(target))
    assert frag.code == 0 and "node1/Normal" in frag.out


def test_as_snapshot_needs_a_mem_info(tmp_path: Path) -> None:
    r = run_cli("logs", str(CORPUS / "006-linuxmm-khugepaged-stall-order10-i386.log"),
                "--as-snapshot", str(tmp_path / "s"))
    assert r.code == 2 and "no Mem-Info" in r.err
    assert not (tmp_path / "s").exists()


def test_as_snapshot_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep").write_text("x")
    r = run_cli("logs", str(SEED), "--as-snapshot", str(tmp_path / "s"))
    assert r.code == 3 and (tmp_path / "s" / "keep").read_text() == "x"


@pytest.mark.parametrize(("name", "code"), [("no/such/dir/snap", 3), ("snap.zip", 2)])
def test_as_snapshot_target_is_refused_before_the_scan(tmp_path: Path, name: str, code: int) -> None:
    r = run_cli("logs", str(SEED), "--as-snapshot", str(tmp_path / name))
    assert r.code == code and r.out == ""  # no event printed before the refusal
    first, *rest = r.err.splitlines()
    assert first.startswith(f"memstall: error: {tmp_path}") and all(x.startswith("hint: ") for x in rest)


def test_docs_logs_md_documents_every_json_key() -> None:
    doc_md = (Path(__file__).parent.parent / "docs" / "logs.md").read_text()
    logs = [str(p) for p in sorted(CORPUS.glob("*.log"))]
    doc = json.loads(run_cli("logs", "--format", "json", *logs).out)
    open_maps = frozenset({"fields_kb", "fields", "summary_pages", "nodes_kb", "reasons", "by_kind",
                           "by_order", "by_flags", "by_comm", "by_host"})
    missing = sorted(k for k in json_keys(doc, open_maps) if f"`{k}`" not in doc_md)
    assert missing == []


SYSRQ = CORPUS / "003-lkml-2004-sysrq-m-highmem-2.6.3.log"


@pytest.mark.parametrize("logs", [[SEED, DOM, FC27], [SYSRQ], []], ids=["events", "standalone-only", "empty"])
def test_streamed_json_is_byte_identical_to_the_whole_document(logs: list[Path], tmp_path: Path) -> None:
    """--format json encodes events as they come; the result is exactly document_text's output:
    the envelope indented, each event and standalone dump on one line."""
    from memstall.outputs.logs import document_text

    empty = tmp_path / "empty.log"
    empty.write_text("")
    r = run_cli("logs", "--format", "json", *[str(p) for p in logs or [empty]])
    assert r.code == 0
    doc = json.loads(r.out)
    assert r.out == document_text(doc)
    lines = r.out.count("\n")  # not splitlines(): U+2028 in a log's text is left as it is
    assert lines == document_text({**doc, "events": [], "standalone_mem_info": []}).count("\n") \
        + (1 + len(doc["events"]) if doc["events"] else 0) \
        + (1 + len(doc["standalone_mem_info"]) if doc["standalone_mem_info"] else 0)


def test_version_imports_no_sub_command() -> None:
    """`memstall --version` answers without loading the scanner, the rules or any command."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "memstall", "--version"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("memstall ")
    loaded = [ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines() if "|" in ln]
    assert not [m for m in loaded if m.startswith(("memstall.cli.", "memstall.parsers", "memstall.rules"))]
