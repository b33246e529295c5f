"""`memstall lab`: reproduce a stall in a throw-away QEMU guest and A/B-test settings.

The host side builds an initramfs (busybox plus the static workload helper compiled from
`guest/workload.c`, and `guest/init`), boots QEMU once per run with the NUMA layout asked
for, applies one sysctl.d profile inside the guest, drives a scenario, and decodes what
the guest printed on its serial console into the results directory: one snapshot tree
per interval (MANIFEST.json + files, readable by every other command), the guest's
kernel log, the workload's latencies, the exact QEMU command line and the profile.
`compare` turns recorded runs into per-profile numbers with a Mann-Whitney U test.

Layering: lab sits beside tune (it runs processes and writes files); it imports
collect/sources/parsers/analysis downwards and never cli or outputs.
"""
