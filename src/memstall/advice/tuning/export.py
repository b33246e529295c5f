"""`tune export`: the plan as a sysctl.d file, a tuned profile or an Ansible task list.

For fleets that roll changes out with their own tools; nothing is written here.
tuned: a profile's tuned.conf with a [sysctl] section and `include=` of the profile
active on this root (ROOT/etc/tuned/active_profile), so the rest of it keeps applying.
Ansible: tasks for the ansible.posix.sysctl module writing the same drop-in file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from memstall import __version__
from memstall.advice.tuning.plan import Change
from memstall.analysis.sysctl_origin import MEMSTALL_DROP_IN

FORMATS = ("sysctl", "tuned", "ansible")
TUNED_ACTIVE = "etc/tuned/active_profile"


def _header(fmt: str) -> list[str]:
    return [f"# memstall {__version__} `tune export --format {fmt}`: review before rolling it out."]


def as_sysctl(changes: Sequence[Change]) -> str:
    lines = [*_header("sysctl"), f"# Install as /{MEMSTALL_DROP_IN}."]
    for c in changes:
        lines += ["", f"# {c.rationale}", f"{c.name} = {c.proposed}"]
    return "\n".join(lines) + "\n"


def active_tuned_profile(root: Path) -> str | None:
    try:
        text = (root / TUNED_ACTIVE).read_text().split()
    except OSError:
        return None
    return text[0] if text else None


def as_tuned(changes: Sequence[Change], include: str | None) -> str:
    lines = [*_header("tuned"),
             "# Save as /etc/tuned/memstall/tuned.conf, then `tuned-adm profile memstall`.",
             "", "[main]", "summary=memstall vm tuning"]
    if include:
        lines.append(f"include={include}")
    else:
        lines.append(f"# no active tuned profile in {TUNED_ACTIVE}: add include=<profile> to keep yours")
    lines += ["", "[sysctl]"]
    for c in changes:
        lines += [f"# {c.rationale}", f"{c.name}={c.proposed}"]
    return "\n".join(lines) + "\n"


def as_ansible(changes: Sequence[Change]) -> str:
    lines = [*_header("ansible"),
             "# A task list for ansible.posix.sysctl (include_tasks or a role's tasks/)."]
    for c in changes:
        lines += [f"- name: {json.dumps(f'{c.name} = {c.proposed} (memstall)')}",
                  "  ansible.posix.sysctl:",
                  f"    name: {c.name}",
                  f"    value: {json.dumps(c.proposed)}",
                  f"    sysctl_file: /{MEMSTALL_DROP_IN}",
                  "    state: present",
                  "    sysctl_set: true",
                  "    reload: true"]
    return "\n".join(lines) + "\n"


def export(changes: Sequence[Change], fmt: str, root: Path) -> str:
    if fmt == "tuned":
        return as_tuned(changes, active_tuned_profile(root))
    if fmt == "ansible":
        return as_ansible(changes)
    return as_sysctl(changes)
