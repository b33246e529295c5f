"""Records of `memstall tune`: a transaction as stored, and a drift report.

Frozen data only: `memstall/tune/` (the write edge) makes and stores them, `outputs/tune.py`
renders them, and neither has to import the other. tx.json is `Tx.to_json()`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from memstall.errors import InputError
from memstall.model.sysctl_conf import swap_separators

TX_FORMAT = "memstall.tune.tx/1"


@dataclass(frozen=True)
class TxChange:
    key: str
    after: str | None
    """What memstall wrote; None for a value only backed up because writing a partner
    changes it (dirty_bytes zeroes dirty_ratio and vice versa)."""
    backup: str
    """File name under before/."""
    before_text: str


@dataclass(frozen=True)
class TxPersist:
    path: str
    """Root-relative: etc/sysctl.d/90-memstall.conf."""
    existed: bool
    mode: int | None
    written_sha256: str | None = None


@dataclass(frozen=True)
class TxRevert:
    seconds: int
    deadline: float
    """time.time() after which the rollback runs."""
    mechanism: str
    """'systemd-run timer' or 'detached watcher'."""
    handle: str
    """The systemd unit name, or the watcher's pid."""
    confirmed: bool = False


@dataclass(frozen=True)
class Tx:
    id: str
    created: float
    root: str
    kernel_release: str | None
    status: str
    """'applying' (interrupted if it stays so), 'applied', 'failed' (all restored at once),
    'rolled-back'."""
    changes: tuple[TxChange, ...]
    persist: TxPersist | None = None
    revert: TxRevert | None = None
    events: tuple[str, ...] = ()
    rationale: Mapping[str, str] = field(default_factory=dict)

    def with_event(self, text: str, **updates: Any) -> Tx:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return replace(self, events=(*self.events, f"{stamp} {text}"), **updates)

    @property
    def written(self) -> tuple[TxChange, ...]:
        return tuple(c for c in self.changes if c.after is not None)

    def to_json(self) -> str:
        doc = {"format": TX_FORMAT, **asdict(self)}
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> Tx:
        try:
            doc = json.loads(text)
            if doc.pop("format") != TX_FORMAT:
                raise ValueError("unknown format")
            doc["changes"] = tuple(TxChange(**c) for c in doc["changes"])
            doc["persist"] = TxPersist(**doc["persist"]) if doc["persist"] else None
            doc["revert"] = TxRevert(**doc["revert"]) if doc["revert"] else None
            doc["events"] = tuple(doc["events"])
            return cls(**doc)
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"{where}: not a memstall transaction record ({err})") from None


@dataclass(frozen=True)
class KeyDrift:
    key: str
    applied: str | None
    """memstall's last applied value; None: only found in the drop-in."""
    tx_id: str | None
    running: str | None
    boot: str | None
    boot_from: str | None
    """'etc/sysctl.d/90-memstall.conf:7', or None when no file sets it."""
    problems: tuple[str, ...]

    @property
    def name(self) -> str:
        return swap_separators(self.key)


@dataclass(frozen=True)
class VerifyReport:
    keys: tuple[KeyDrift, ...]
    problems: tuple[str, ...]
    """Problems not tied to one key (an interrupted transaction, an edited drop-in)."""

    @property
    def drifted(self) -> bool:
        return bool(self.problems) or any(k.problems for k in self.keys)
