#!/usr/bin/env bash
# Build the static `tierctl-mmap` (crates/tierctl-mmap) that the helper images carry, so that
# `tierctl vm --probe` can measure mmap coherence from inside a container (issue 22), and print
# its path. Static with glibc's libc.a (Debian: libc6-dev): the helper image has no libc.
# Only this target is built with +crt-static (`--target`), so the rest of the build is untouched.
# Used by .ci/docker and tests/vm/harness.sh. Quiet on success but for the path.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "tierctl-mmap-static: cargo not found" >&2; exit 1; }
triple=$(rustc -vV | sed -n 's/^host: //p')
var=CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUSTFLAGS
env "$var=-C target-feature=+crt-static" \
  cargo build --quiet --release -p tierctl-mmap --target "$triple" >&2
bin=target/$triple/release/tierctl-mmap
ldd "$bin" 2>&1 | grep -q "=>" && { echo "tierctl-mmap-static: $bin is not static" >&2; exit 1; }
echo "$PWD/$bin"
