#!/usr/bin/env bash
# The power-cut soak (issue 21 item 2): the VM power-cut test (tests/it/vm_powercut.rs) with
# many cuts. Inside the test VM tierctl moves a volume onto the guest's own tier disk and QEMU
# is killed (`tests/vm/harness.sh powercut`) at a random instant after a step it is aimed at
# (pre-copy, running verify, stop, delta, rewrite, start, in turn), every other move's resume is
# cut too; the same disks boot again and `--resume` or `--rollback --yes` must leave the compose
# file old or new, the service on the data it names, that data and the source volume identical
# to the seed, and `migrate --check` clean after a resume.
#
# Usage (root): bench/powercut-soak.sh [CUTS] [WINDOW_S]   (default 30 cuts, 10 s window)
# Boots the VM with `.ci/vm up` when none runs (and leaves it up). Each cut costs a boot (about
# 70-100 s under TCG). TIERCTL_POWERCUT_SEED=N repeats a run's instants (the seed is printed).
# A script, not a test: it prints the story of each cut and the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
cuts=${1:-30}
window=${2:-10}
bash tests/vm/harness.sh status >/dev/null 2>&1 || bash .ci/vm up
export TIERCTL_REQUIRE_VM=1 TIERCTL_VM_POWER_CUTS=$cuts TIERCTL_POWERCUT_WINDOW_S=$window
export TIERCTL_HELPER_IMAGE=${TIERCTL_HELPER_IMAGE:-tierctl-helper:busybox}
start=$SECONDS
cargo test --quiet --test it vm_powercut -- --nocapture 2>&1 |
  grep -E '^(power cut|`migrate|then `migrate|test result|thread|  left|  right|assertion)' || true
echo "soak: $cuts cuts in $((SECONDS - start)) s"
