#!/usr/bin/env bash
# Builds the .deb with cargo-deb from the [package.metadata.deb] in Cargo.toml, unpacks it
# into a temporary root and checks it: every file the package promises is inside, the desktop
# entry and metainfo validate where they were installed, and the packaged binary answers
# --version with Cargo.toml's version.
# Usage: bash packaging/deb.sh [--profile release|dev]   (default release)
#   CI runs it with --profile dev on the binary the tests already built: what is checked is
#   the package's contents and wiring, not an optimised build. A release package:
#   bash packaging/deb.sh  ->  target/debian/eventlens_<version>-1_<arch>.deb
# CI=true installs cargo-deb (and dpkg-dev) when missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

profile=release
if [ "${1:-}" = --profile ]; then
  profile=${2:?--profile needs a name}
fi
cargo_deb_version=3.8.0

if ! command -v cargo-deb >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    cargo install cargo-deb --locked --version "$cargo_deb_version" --quiet
  else
    echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2
    exit 1
  fi
fi
if ! command -v dpkg-shlibdeps >/dev/null 2>&1 && [ "${CI:-}" = true ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq dpkg-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq dpkg-dev >/dev/null; }
fi

if [ "$profile" = dev ]; then build_dir=debug; else build_dir=$profile; fi
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cargo build --profile "$profile" --bin eventlens
bin="$target_dir/$build_dir/eventlens"

# The man page and completions come from the binary's own command line (clap).
generated=target/packaging
mkdir -p "$generated"
"$bin" man >"$generated/eventlens.1"
"$bin" completions bash >"$generated/eventlens.bash"
"$bin" completions zsh >"$generated/_eventlens"
"$bin" completions fish >"$generated/eventlens.fish"

version=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
out=$(cargo deb --no-build --no-strip --profile "$profile" 2>&1 | tail -n 1)
deb=$(ls -t "$target_dir"/debian/eventlens_"$version"-1_*.deb | head -n 1)
echo "built $deb ($out)"

root_dir=$(mktemp -d)
trap 'rm -rf "$root_dir"' EXIT
dpkg-deb -x "$deb" "$root_dir"
failed=0
for file in \
  usr/bin/eventlens \
  usr/share/applications/io.github.eventlens.EventLens.desktop \
  usr/share/mime/packages/io.github.eventlens.EventLens.xml \
  usr/share/metainfo/io.github.eventlens.EventLens.metainfo.xml \
  usr/share/icons/hicolor/scalable/apps/io.github.eventlens.EventLens.svg \
  usr/share/icons/hicolor/512x512/apps/io.github.eventlens.EventLens.png \
  usr/share/man/man1/eventlens.1.gz \
  usr/share/bash-completion/completions/eventlens \
  usr/share/zsh/vendor-completions/_eventlens \
  usr/share/fish/vendor_completions.d/eventlens.fish \
  usr/share/doc/eventlens/copyright; do
  if [ -e "$root_dir/$file" ]; then echo "ok      $file"; else echo "MISSING $file"; failed=1; fi
done
answered=$("$root_dir/usr/bin/eventlens" --version)
if [ "$answered" = "eventlens $version" ]; then
  echo "ok      usr/bin/eventlens --version: $answered"
else
  echo "FAILED  usr/bin/eventlens --version: $answered (wanted eventlens $version)"
  failed=1
fi
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$root_dir/usr/share/applications/io.github.eventlens.EventLens.desktop" && echo "ok      installed desktop entry validates" || failed=1
fi
dpkg-deb --field "$deb" Package Version Depends
if [ "$failed" -ne 0 ]; then
  echo "deb: FAILED" >&2
  exit 1
fi
echo "deb: ok"
