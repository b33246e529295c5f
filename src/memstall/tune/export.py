"""`tune export`: the plan as a sysctl.d file, a tuned profile or an Ansible task list.

For fleets that roll changes out with their own tools; nothing is written here.
tuned: a profile's tuned.conf with a [sysctl] section and `include=` of the profile
active on this root (ROOT/etc/tuned/active_profile), so the rest of it keeps applying.
Ansible: tasks for the ansible.posix.sysctl module writing the same drop-in file.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence

from memstall import __version__
from memstall.advice.tuning import Change
from memstall.analysis.sysctl_origin import MEMSTALL_DROP_IN, SYSCTL_CONF, boot_order, key_origin
from memstall.errors import SourceUnavailable
from memstall.sources import Source
from memstall.tune.persist import read_conf_files

FORMATS = ("sysctl", "tuned", "ansible")
TUNED_ACTIVE = "etc/tuned/active_profile"


def _header(fmt: str) -> list[str]:
    return [f"# memstall {__version__} `tune export --format {fmt}`: review before rolling it out."]


def as_sysctl(changes: Sequence[Change]) -> str:
    lines = [*_header("sysctl"), f"# Install as /{MEMSTALL_DROP_IN}."]
    for c in changes:
        lines += ["", f"# {c.rationale}", f"{c.name} = {c.proposed}"]
    return "\n".join(lines) + "\n"


def active_tuned_profile(source: Source) -> str | None:
    """The `include=` value for the active profile(s): tuned keeps several active profiles
    space-separated in active_profile and splits include= on ',' (tuned/profiles/loader.py)."""
    try:
        names = source.read_text(TUNED_ACTIVE).split()
    except SourceUnavailable:
        return None
    return ",".join(names) if names else None


def tuned_overrides(source: Source, changes: Sequence[Change]) -> list[str]:
    """Keys the root's sysctl.d/sysctl.conf also set: with reapply_sysctl = 1 (the default in
    tuned-main.conf) tuned re-applies run/sysctl.d, etc/sysctl.d and etc/sysctl.conf after
    its [sysctl] section (plugin_sysctl._apply_system_sysctl), so those values win."""
    reapplied = [f for f in read_conf_files(source)
                 if f.path == SYSCTL_CONF or posixpath.dirname(f.path) in ("etc/sysctl.d", "run/sysctl.d")]
    order = boot_order(reapplied)
    out = []
    for c in changes:
        winner = key_origin(order, c.key).winner
        if winner is not None:
            out.append(f"# warning: {winner.where} sets {c.name} = {winner.value}, and tuned re-applies "
                       "it after this profile (reapply_sysctl = 1): remove that line or set "
                       "reapply_sysctl = 0 in /etc/tuned/tuned-main.conf")
    return out


def as_tuned(changes: Sequence[Change], include: str | None, overrides: Sequence[str] = ()) -> str:
    lines = [*_header("tuned"),
             "# Save as /etc/tuned/memstall/tuned.conf, then `tuned-adm profile memstall`.",
             *overrides, "", "[main]", "summary=memstall vm tuning"]
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


def export(changes: Sequence[Change], fmt: str, source: Source) -> str:
    if fmt == "tuned":
        return as_tuned(changes, active_tuned_profile(source), tuned_overrides(source, changes))
    if fmt == "ansible":
        return as_ansible(changes)
    return as_sysctl(changes)
