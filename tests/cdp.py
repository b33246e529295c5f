"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (stdlib only), for
the report tests: open a page, wait for its script, move the mouse, read what it shows."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any


class Browser:
    def __init__(self, exe: str, profile: Path, url: str, flags: list[str]) -> None:
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        # The child reads commands on fd 3 and writes replies on fd 4; close_fds runs after
        # preexec_fn, so 3 and 4 are listed in pass_fds to survive it.
        def fds() -> None:
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [exe, *flags, "--remote-debugging-pipe", f"--user-data-dir={profile}", url],
            preexec_fn=fds,  # noqa: PLW1509 (dup2 only; these tests start no threads)
            pass_fds=(3, 4, to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._r], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)  # type: ignore[no-any-return]

    def call(
        self, method: str, session: str | None = None, timeout: float = 30, **params: Any
    ) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def page_session(self) -> str:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        return str(self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"])

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return result["result"].get("value")

    def close(self) -> str:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, EOFError, OSError):
            self.proc.kill()
        _, err = self.proc.communicate(timeout=30)
        os.close(self._w)
        os.close(self._r)
        return err.decode(errors="replace")
