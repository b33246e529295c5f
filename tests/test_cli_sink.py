"""The one error sink (cli.main): exit codes for internal errors, Ctrl-C and a closed stdout,
and diagnose's monitoring-plugins codes (3 UNKNOWN for every failure).

In-process tests pass an `Io` whose stdout fails the way a real stream does: a closed
StringIO (ValueError: a bug in memstall's view of its output), or a stream whose write
raises what the OS or the terminal raises (BrokenPipeError, KeyboardInterrupt). Subprocess
tests check the same on a real pipe and a real SIGINT.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, CliResult, run_cli
from memstall.cli import Io, main
from memstall.cli import diagnose as diagnose_cli
from memstall.errors import ExitCode, PluginStatus

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
SEED_LOG = FIXTURES / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"
SRC = Path(__file__).parent.parent / "src"
SHOW = ["--root", str(IDLE), "show", "frag"]
DIAGNOSE = ["--root", str(IDLE), "diagnose"]


class Raising(io.StringIO):
    """A stdout whose every write raises `error` (what a closed pipe or Ctrl-C does mid-write)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error


def _run(argv: list[str], stdout: io.StringIO) -> CliResult:
    err = io.StringIO()
    code = main(argv, Io(stdout=stdout, stderr=err))
    return CliResult(code, "", err.getvalue())


def _closed() -> io.StringIO:
    out = io.StringIO()
    out.close()
    return out


def test_an_internal_error_exits_70_with_one_line() -> None:
    r = _run(SHOW, _closed())
    assert r.code == 70 and ExitCode.INTERNAL.value == 70
    assert r.err == ("memstall: internal error: ValueError: I/O operation on closed file "
                     "(re-run with --debug and report it)\n")


def test_an_internal_error_of_diagnose_is_unknown() -> None:
    r = _run(DIAGNOSE, _closed())
    assert r.code == 3 and PluginStatus.UNKNOWN.value == 3
    assert r.err.count("\n") == 1 and r.err.startswith("memstall: internal error: ValueError: ")


def test_debug_shows_an_internal_error_as_a_traceback() -> None:
    with pytest.raises(ValueError, match="closed file"):
        _run(["--debug", *SHOW], _closed())


@pytest.mark.parametrize(("argv", "code"), [(SHOW, 130), (DIAGNOSE, 3)])
def test_ctrl_c_exits_130_quietly_and_diagnose_3(argv: list[str], code: int) -> None:
    r = _run(argv, Raising(KeyboardInterrupt()))
    assert (r.code, r.err) == (code, "")


@pytest.mark.parametrize(("argv", "code"), [(SHOW, 141), (DIAGNOSE, 3)])
def test_a_broken_pipe_exits_141_quietly_and_diagnose_3(argv: list[str], code: int) -> None:
    r = _run(argv, Raising(BrokenPipeError(32, "Broken pipe")))
    assert (r.code, r.err) == (code, "")


@pytest.mark.parametrize(("argv", "code"), [
    (["diagnose", "--interval", "-1"], 3),  # our UsageError
    (["diagnose", "--interval", "soon"], 3),  # argparse's own usage error (SystemExit 2)
    (["diagnose", "--fail-on", "sometimes"], 3),
    # two sources: whatif refuses them (diagnose takes both since issue 16: test_root_logs.py)
    (["--root", str(IDLE), "whatif", "--set", "vm.watermark_scale_factor=100", "--log", str(SEED_LOG)], 2),
    (["diagnose", "--log", "/nonexistent/kern.log"], 3),  # input error: 3 either way
    (["--root", "/nonexistent/root", "diagnose"], 3),
    (["show", "frag", "--interval", "1"], 2),  # other commands keep argparse's 2
    (["logs", "--since", "yesterday", str(SEED_LOG)], 2),
    (["--root", "/nonexistent/root", "show", "frag"], 3),
])
def test_usage_and_input_errors(argv: list[str], code: int) -> None:
    r = run_cli(*argv)
    assert r.code == code and r.out == ""
    assert "Traceback" not in r.err


def test_help_and_version_still_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("diagnose", "--help").code == 0
    assert "3 UNKNOWN when the check could not run" in " ".join(capsys.readouterr().out.split())
    assert run_cli("--version").code == 0


def test_the_findings_keep_their_codes() -> None:
    assert [int(diagnose_cli.exit_code(None, "warning")), int(PluginStatus.CRITICAL)] == [0, 2]
    assert diagnose_cli.EXIT_ON_FAILURE is PluginStatus.UNKNOWN


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered, as usual
    return {**env, "PYTHONPATH": str(SRC)}


@pytest.mark.parametrize(("argv", "code"), [(SHOW, 141), (DIAGNOSE, 3)])
def test_a_real_closed_pipe_is_quiet(argv: list[str], code: int) -> None:
    """The reader of stdout is gone before memstall writes. Python ignores SIGPIPE, so the
    write raises BrokenPipeError; the output is small enough to sit in the buffer, so the
    error comes at the flush: inside main, not at interpreter exit (which would print
    'Exception ignored' and exit 120)."""
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        r = subprocess.run([sys.executable, "-m", "memstall", *argv], stdout=write_fd,
                           stderr=subprocess.PIPE, text=True, env=_env(), check=False, timeout=120)
    finally:
        os.close(write_fd)
    assert (r.returncode, r.stderr) == (code, "")


def _wait_blocked_on_pipe(pid: int) -> None:
    """Until the process sleeps reading its stdin pipe (so imports are done and main runs)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        wchan = Path(f"/proc/{pid}/wchan").read_text()
        if "pipe" in wchan:
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} never blocked on its stdin pipe (wchan {wchan!r})")


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc/<pid>/wchan")
@pytest.mark.parametrize(("argv", "code"), [(["logs", "-"], 130), (["diagnose", "--log", "-"], 3)])
def test_a_real_ctrl_c_while_reading_stdin(argv: list[str], code: int) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "memstall", *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait_blocked_on_pipe(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (code, "", "")


# -- issue 9's "crashes that must become one clean line" ---------------------------------

OOM_LINE = ("Dec  4 10:00:00 h kernel: [    1.000000] caf\u00e9 invoked oom-killer: "
            "gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0\n")


def test_a_name_the_locale_cannot_encode_is_escaped_not_a_crash(tmp_path: Path) -> None:
    """A comm with UTF-8 in it, printed under an ASCII/Latin-1 locale: exit 70 before."""
    log = tmp_path / "kern.log"
    log.write_text(OOM_LINE, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "memstall", "logs", str(log)], capture_output=True,
                       env={**_env(), "PYTHONIOENCODING": "ascii"}, check=False, timeout=120)
    assert (r.returncode, r.stderr) == (0, b"")
    assert b"caf\\xe9" in r.stdout


def test_stdout_closed_from_the_start_is_one_line(tmp_path: Path) -> None:
    """`memstall logs FILE >&-`: every write fails with EBADF (exit 70 before)."""
    log = tmp_path / "kern.log"
    log.write_text(OOM_LINE, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "memstall", "logs", str(log)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, env=_env(), check=False, timeout=120,
                       preexec_fn=lambda: os.close(1))
    assert r.returncode == ExitCode.BROKEN_PIPE
    assert r.stderr == "memstall: error: standard output is closed: nothing could be written\n"


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-1", "soon"])
@pytest.mark.parametrize(("argv", "code"), [(["diagnose"], PluginStatus.UNKNOWN),
                                            (["snapshot", "-o", "never-written", "--samples", "2"], 2),
                                            (["tune", "plan"], 2)])
def test_an_interval_that_is_no_number_of_seconds_is_a_usage_error(
        argv: list[str], code: int, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """float() reads nan, inf and 1e308: each slept forever or crashed (exit 70) before."""
    r = run_cli(*argv, "--interval", value)
    err = capsys.readouterr().err  # argparse writes its usage error to sys.stderr itself
    assert r.code == code
    assert f"argument --interval: {value!r} is not a number of seconds from 0 to 604800" in err
    assert "Traceback" not in err
