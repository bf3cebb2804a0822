#!/usr/bin/env bash
# The NEON path of src/parse/tabs.rs, which an x86_64 test run never reaches (arm64 is the
# template's default Lambda architecture): the module's own tests, cross-compiled for aarch64 and
# run under qemu-user. The module uses only std, so a one-file crate includes it by path.
#
# Needs qemu-aarch64 and aarch64-linux-gnu-gcc (Debian: qemu-user gcc-aarch64-linux-gnu), which it
# installs with apt-get when it runs as root; under CI=true a missing tool fails the run.
#
#   bash scripts/neon.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"

have() { command -v qemu-aarch64 >/dev/null && command -v aarch64-linux-gnu-gcc >/dev/null; }
if ! have && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "neon.sh: installing qemu-user gcc-aarch64-linux-gnu" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user gcc-aarch64-linux-gnu; } >/dev/null
fi
if ! have; then
    echo "neon.sh: qemu-aarch64 and aarch64-linux-gnu-gcc are required (apt-get install qemu-user gcc-aarch64-linux-gnu)" >&2
    [[ ${CI:-} == true ]] && exit 1
    echo "neon.sh: skipped (not under CI=true)" >&2
    exit 0
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
    rustup target add aarch64-unknown-linux-gnu >&2

crate="$target/neon-check"
mkdir -p "$crate/src"
cat >"$crate/Cargo.toml" <<'TOML'
[package]
name = "neon-check"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]
TOML
printf '#[path = "%s/src/parse/tabs.rs"]\npub mod tabs;\n' "$root" >"$crate/src/lib.rs"
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
CARGO_TARGET_DIR="$crate/target" \
    cargo test --quiet --manifest-path "$crate/Cargo.toml" --target aarch64-unknown-linux-gnu
