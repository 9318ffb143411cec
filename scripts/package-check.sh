#!/usr/bin/env bash
# What a user of crates.io gets: packages the published crates, then builds,
# outside the workspace, a crate that depends on the facade by its package
# name (`finch-slo`) and whose main.rs is the README's quick start, with the
# facade's default features and with `postgres`. The packaged sources stand in
# for crates.io through `[patch.crates-io]`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Absolute, as the build below runs elsewhere; shared with the workspace's
# builds, so that the dependencies CI has built are reused.
export CARGO_TARGET_DIR
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-target}")
crates=(finch-core finch-macros finch-postgres finch-slo)
version=$(cargo pkgid -p finch-slo | sed 's/.*[@#]//')

cargo package --no-verify "${crates[@]/#/-p=}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/packages" "$work/quickstart/src"
for crate in "${crates[@]}"; do
    tar -xzf "$CARGO_TARGET_DIR/package/$crate-$version.crate" -C "$work/packages"
done

# The first rust block after the README's "## Quick start" heading.
awk '/^## Quick start/ { in_section = 1 }
     in_section && /^```rust/ { in_code = 1; next }
     in_code && /^```/ { exit }
     in_code { print }' README.md >"$work/quickstart/src/main.rs"
grep -q 'finch::start' "$work/quickstart/src/main.rs"

{
    cat <<EOF
[package]
name = "quickstart"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
finch-slo = "$version"
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }

# Named here, the feature puts finch-postgres in the lockfile of both builds.
[features]
postgres = ["finch-slo/postgres"]

[patch.crates-io]
EOF
    for crate in "${crates[@]}"; do
        echo "$crate = { path = \"../packages/$crate-$version\" }"
    done
} >"$work/quickstart/Cargo.toml"

# The workspace's lockfile pins the versions CI has already downloaded and built.
cp Cargo.lock "$work/quickstart/"
cd "$work/quickstart"
# No debug info, as in CI's `cargo publish --dry-run`: the dependencies that
# the verification of the packages built are reused.
export CARGO_PROFILE_DEV_DEBUG=false
cargo build
# The `postgres` feature, which brings in the packaged finch-postgres.
cargo build --features postgres
echo "package-check: the README's quick start builds against the packaged finch-slo $version"
