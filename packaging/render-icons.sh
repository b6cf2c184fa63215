#!/usr/bin/env bash
# Renders every bitmap icon from the one drawing, icons/hicolor/scalable/apps/<id>.svg:
#   icons/hicolor/<N>x<N>/apps/<id>.png   N = 32 48 64 128 256 512   (rsvg-convert)
#   macos/EventLens.icns                  16 32 48 128 256 512 1024  (png2icns)
#   windows/eventlens.ico                 16 32 48 256               (ImageMagick convert)
# Needs: apt-get install librsvg2-bin icnsutils imagemagick
# Run from anywhere: bash packaging/render-icons.sh; then bash packaging/check.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
id=io.github.eventlens.EventLens
svg=$here/icons/hicolor/scalable/apps/$id.svg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for n in 32 48 64 128 256 512; do
  mkdir -p "$here/icons/hicolor/${n}x${n}/apps"
  rsvg-convert --width "$n" --height "$n" "$svg" --output "$here/icons/hicolor/${n}x${n}/apps/$id.png"
done
# Sizes only the macOS and Windows icons carry are rendered to a scratch folder.
for n in 16 1024; do
  rsvg-convert --width "$n" --height "$n" "$svg" --output "$tmp/$n.png"
done
png() { if [ "$1" = 16 ] || [ "$1" = 1024 ]; then echo "$tmp/$1.png"; else echo "$here/icons/hicolor/$1x$1/apps/$id.png"; fi; }

# png2icns picks each image's icon type from its size.
icns_pngs=()
for n in 16 32 48 128 256 512 1024; do icns_pngs+=("$(png $n)"); done
png2icns "$here/macos/EventLens.icns" "${icns_pngs[@]}" >/dev/null

# ImageMagick 7 is `magick`, 6 is `convert`. The date chunks are left out so the same drawing
# gives the same bytes.
ico_pngs=()
for n in 16 32 48 256; do ico_pngs+=("$(png $n)"); done
magick=$(command -v magick || command -v convert)
"$magick" "${ico_pngs[@]}" -define png:exclude-chunks=date,time "$here/windows/eventlens.ico"
echo "rendered from $svg"
