"""`memstall tune`: plan, apply with read-back and automatic restore, persist, roll back.

The write edge, mirror of sources/: the only package that writes /proc/sys and sysctl.d.
Only cli imports it (outputs/tune.py renders its records); tests/test_architecture.py
enforces that.

Modules: plan (what would change and why), safety (refusals), procsys (reads and writes
ROOT/proc/sys), store (transactions and backups under --state-dir), transaction (apply,
rollback, confirm), persist (ROOT/etc/sysctl.d/90-memstall.conf and precedence),
revert (the --revert-after timer or watcher), verify (drift), export (sysctl, tuned,
ansible), faults (test fault injection, handed in by cli). Only procsys, store and
persist touch the filesystem.
"""
