#!/usr/bin/env bash
# Validates what of packaging/ can be validated on Linux:
#   - the desktop entry (desktop-file-validate),
#   - the AppStream metainfo (appstreamcli validate --no-net),
#   - the XML files (xmllint --noout): MIME type, metainfo, SVG icon, Info.plist,
#   - the MIME type as a desktop sees it: a copy of the system database with ours added, asked
#     through GIO what a session file, other JSON Lines and a compressed session are,
#   - every PNG icon's pixel size, and the sizes inside the .icns and the .ico,
#   - one application id, one MIME type and one version (Cargo.toml's) in every file,
#   - the Windows resource script, compiled with MinGW's windres when it is installed.
# Usage: bash packaging/check.sh    (CI=true installs the Debian tools it needs when missing)
# Ends with "packaging: N passed, N failed" and exits non-zero when a check failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

id=io.github.eventlens.EventLens
mime=application/x-eventlens-session
desktop=packaging/linux/$id.desktop
metainfo=packaging/linux/$id.metainfo.xml
mimexml=packaging/linux/$id.xml
svg=packaging/icons/hicolor/scalable/apps/$id.svg
plist=packaging/macos/Info.plist
icns=packaging/macos/EventLens.icns
ico=packaging/windows/eventlens.ico
rc=packaging/windows/eventlens.rc
sizes=(32 48 64 128 256 512)

if [ "${CI:-}" = true ]; then
  missing=()
  command -v desktop-file-validate >/dev/null || missing+=(desktop-file-utils)
  command -v appstreamcli >/dev/null || missing+=(appstream)
  command -v xmllint >/dev/null || missing+=(libxml2-utils)
  command -v update-mime-database >/dev/null || missing+=(shared-mime-info)
  command -v gio >/dev/null || missing+=(libglib2.0-bin)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
fi

passed=0
failed=0
skipped=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check NAME COMMAND...: runs the command, prints its output only when it fails.
check() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    echo "ok      $name"
    passed=$((passed + 1))
  else
    echo "FAILED  $name"
    sed 's/^/        /' "$tmp/out"
    failed=$((failed + 1))
  fi
}

# need TOOL NAME: true when TOOL is installed, else the check NAME is reported skipped.
need() {
  if command -v "$1" >/dev/null; then return 0; fi
  echo "skipped $2 ($1 is not installed; CI=true installs it)"
  skipped=$((skipped + 1))
  return 1
}

# --- validators -------------------------------------------------------------------------
if need desktop-file-validate "desktop entry"; then
  # desktop-file-validate exits 0 on warnings too: any output counts as a failure.
  desktop_entry_valid() {
    local out
    out=$(desktop-file-validate "$desktop" 2>&1) || { echo "$out"; return 1; }
    [ -z "$out" ] || { echo "$out"; return 1; }
  }
  check "desktop-file-validate $desktop" desktop_entry_valid
fi

if need appstreamcli "metainfo"; then
  # Errors and warnings fail; infos and pedantic notes are printed but pass (AppStream 0.16,
  # Debian 12's, does not know the 1.0 <developer> tag and says so as an info).
  metainfo_valid() {
    appstreamcli validate --no-net "$metainfo" || return 1
  }
  check "appstreamcli validate --no-net $metainfo" metainfo_valid
  sed -n 's/^\(I\|P\): /        note: \1: /p' "$tmp/out"
fi

if need xmllint "XML well-formedness"; then
  for f in "$mimexml" "$metainfo" "$svg" "$plist"; do
    check "xmllint --noout $f" xmllint --noout "$f"
  done
fi

# --- the MIME type, as GIO sees it --------------------------------------------------------
# Like the .deb: ours next to freedesktop.org.xml in one database (/usr/share/mime). Installed
# in a second database (~/.local/share/mime), GLib takes a compressed session for plain
# application/zstd: see packaging/README.md.
mime_detection() {
  local db=$tmp/share/mime files=$tmp/files
  mkdir -p "$db/packages" "$files"
  cp /usr/share/mime/packages/freedesktop.org.xml "$mimexml" "$db/packages/"
  # Its note that $db is not a data directory of this session is expected; a warning is not.
  local out
  out=$(update-mime-database "$db" 2>&1) || { echo "$out"; return 1; }
  if grep -iE 'warn|error|invalid|unknown' <<<"$out"; then return 1; fi
  printf '%s\n%s\n' '{"format":"eventlens-session","version":2,"created_unix_nano":1763817600000000000,"writer":"eventlens 0.1.0"}' \
    '{"kind":"spans","received_unix_nano":1763817600000000000,"source":"file","spans":[]}' >"$files/incident.jsonl"
  printf '%s\n' '{"level":"info","msg":"not a session"}' >"$files/app-log.jsonl"
  # A zstd frame's magic bytes: content sniffing sees a zstd file, the name says session.
  printf '\x28\xb5\x2f\xfd\x04\x00' >"$files/incident.jsonl.zst"
  printf '\x28\xb5\x2f\xfd\x04\x00' >"$files/backup.zst"
  local f want got bad=0
  for f in incident.jsonl:$mime app-log.jsonl:text/plain incident.jsonl.zst:$mime backup.zst:application/zstd; do
    want=${f#*:}
    got=$(XDG_DATA_HOME=$tmp/none XDG_DATA_DIRS=$tmp/share gio info -a standard::content-type "$files/${f%%:*}" |
      sed -n 's/^ *standard::content-type: //p')
    echo "${f%%:*}: $got (want $want)"
    [ "$got" = "$want" ] || bad=1
  done
  return $bad
}
if need update-mime-database "MIME detection" && need gio "MIME detection"; then
  if [ -f /usr/share/mime/packages/freedesktop.org.xml ]; then
    check "MIME type detection (update-mime-database, gio info)" mime_detection
  else
    echo "skipped MIME type detection (no /usr/share/mime/packages/freedesktop.org.xml)"
    skipped=$((skipped + 1))
  fi
fi

# --- icons ------------------------------------------------------------------------------
# png_size FILE: prints WIDTHxHEIGHT from the PNG signature and IHDR chunk.
png_size() {
  python3 -c '
import struct, sys
with open(sys.argv[1], "rb") as f:
    head = f.read(24)
if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
    sys.exit(sys.argv[1] + ": not a PNG")
print("%dx%d" % struct.unpack(">II", head[16:24]))
' "$1"
}
icon_sizes() {
  local n f got bad=0
  for n in "${sizes[@]}"; do
    f=packaging/icons/hicolor/${n}x${n}/apps/$id.png
    if [ ! -f "$f" ]; then echo "$f: missing"; bad=1; continue; fi
    got=$(png_size "$f") || { echo "$got"; bad=1; continue; }
    if [ "$got" != "${n}x${n}" ]; then echo "$f: $got, want ${n}x${n}"; bad=1; fi
  done
  [ -f "$svg" ] || { echo "$svg: missing"; bad=1; }
  return $bad
}
check "hicolor icons ${sizes[*]} px and scalable" icon_sizes

icns_sizes() {
  python3 -c '
import struct, sys
data = open(sys.argv[1], "rb").read()
if data[:4] != b"icns" or struct.unpack(">I", data[4:8])[0] != len(data):
    sys.exit("not an icns file")
found, at = [], 8
while at < len(data):
    kind, length = data[at:at + 4].decode("latin-1"), struct.unpack(">I", data[at + 4:at + 8])[0]
    found.append(kind)
    at += length
# 16, 32, 48 and 128 px (RGB, with their masks), 256, 512 and 1024 px (PNG).
want = ["is32", "s8mk", "il32", "l8mk", "ih32", "h8mk", "it32", "t8mk", "ic08", "ic09", "ic10"]
print("elements:", " ".join(found))
missing = [k for k in want if k not in found]
if missing:
    sys.exit("missing " + " ".join(missing))
' "$icns"
}
check "macOS icon $icns" icns_sizes

ico_sizes() {
  python3 -c '
import struct, sys
data = open(sys.argv[1], "rb").read()
reserved, kind, count = struct.unpack("<HHH", data[:6])
if reserved != 0 or kind != 1:
    sys.exit("not an ico file")
sizes = sorted({(data[6 + 16 * i] or 256, data[7 + 16 * i] or 256) for i in range(count)})
print("sizes:", sizes)
if sizes != [(16, 16), (32, 32), (48, 48), (256, 256)]:
    sys.exit("want 16, 32, 48 and 256 px")
' "$ico"
}
check "Windows icon $ico" ico_sizes

# --- one id, one MIME type, one version -------------------------------------------------
same_id() {
  local bad=0
  expect() { # expect FILE PATTERN: the file has a line matching the extended regex
    grep -Eq "$2" "$1" || { echo "$1: no line matching $2"; bad=1; }
  }
  expect "$desktop" "^Icon=$id\$"
  expect "$desktop" "^StartupWMClass=$id\$"
  expect "$desktop" "^MimeType=$mime;\$"
  expect "$metainfo" "<id>$id</id>"
  expect "$metainfo" "<launchable type=\"desktop-id\">$id.desktop</launchable>"
  expect "$metainfo" "<mediatype>$mime</mediatype>"
  expect "$mimexml" "<mime-type type=\"$mime\">"
  expect "$mimexml" "<icon name=\"$id\"/>"
  expect "$rc" "ICON \"$ico\""
  python3 -c '
import plistlib, sys
d = plistlib.load(open(sys.argv[1], "rb"))
app_id, mime = sys.argv[2], sys.argv[3]
problems = []
if d["CFBundleIdentifier"] != app_id:
    problems.append("CFBundleIdentifier is %s" % d["CFBundleIdentifier"])
if d["CFBundleExecutable"] != "eventlens":
    problems.append("CFBundleExecutable is %s" % d["CFBundleExecutable"])
if d["CFBundleIconFile"] != "EventLens.icns":
    problems.append("CFBundleIconFile is %s" % d["CFBundleIconFile"])
uti = d["UTExportedTypeDeclarations"][0]
if uti["UTTypeTagSpecification"]["public.mime-type"] != [mime]:
    problems.append("the exported type has another MIME type")
if uti["UTTypeIdentifier"] not in d["CFBundleDocumentTypes"][0]["LSItemContentTypes"]:
    problems.append("the document type does not name the exported type")
for p in problems:
    print(sys.argv[1] + ": " + p)
sys.exit(1 if problems else 0)
' "$plist" "$id" "$mime" || bad=1
  # Every file named after the id, and any other id-like name in packaging/.
  local other
  other=$(grep -rIhoE 'io\.github\.eventlens\.[A-Za-z]+' packaging | sort -u | grep -vxE "$id|io\.github\.eventlens\.session" || true)
  [ -z "$other" ] || { echo "other ids in packaging/: $other"; bad=1; }
  return $bad
}
check "one application id ($id) and MIME type ($mime)" same_id

same_version() {
  local version bad=0
  version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
  local commas=${version//./,},0
  echo "Cargo.toml: $version"
  grep -Eq "<release version=\"$version\"" "$metainfo" || { echo "$metainfo: no <release version=\"$version\">"; bad=1; }
  python3 -c '
import plistlib, sys
d = plistlib.load(open(sys.argv[1], "rb"))
bad = [k for k in ("CFBundleShortVersionString", "CFBundleVersion") if d[k] != sys.argv[2]]
for k in bad:
    print("%s: %s is %s" % (sys.argv[1], k, d[k]))
sys.exit(1 if bad else 0)
' "$plist" "$version" || bad=1
  local n
  n=$(grep -cE "^(FILEVERSION|PRODUCTVERSION) +$commas\$|VALUE \"(File|Product)Version\", +\"$version\"" "$rc" || true)
  [ "$n" = 4 ] || { echo "$rc: FILEVERSION, PRODUCTVERSION, FileVersion and ProductVersion must be $version ($commas)"; bad=1; }
  return $bad
}
check "one version (Cargo.toml's) in metainfo, Info.plist, eventlens.rc" same_version

# The window: its app id and icon are the packaging's.
check "the window's app id (APP_ID in src/main.rs) is $id" grep -q "const APP_ID: &str = \"$id\";" src/main.rs
check "the window icon (assets/icon.png) is the packaged 256 px icon" \
  cmp assets/icon.png "packaging/icons/hicolor/256x256/apps/$id.png"

# --- Windows resources ------------------------------------------------------------------
if command -v x86_64-w64-mingw32-windres >/dev/null && [ -f /usr/share/mingw-w64/include/winver.h ]; then
  # The host's cpp stands in for MinGW's gcc, with the defines that gcc would set.
  check "windres $rc" x86_64-w64-mingw32-windres \
    --preprocessor=cpp --preprocessor-arg=-xc --preprocessor-arg=-DRC_INVOKED \
    --preprocessor-arg=-D_WIN32 --preprocessor-arg=-D_WIN64 \
    --preprocessor-arg=-I/usr/share/mingw-w64/include \
    "$rc" -O coff -o "$tmp/eventlens-res.o"
else
  echo "skipped windres $rc (binutils-mingw-w64-x86-64 and mingw-w64-x86-64-dev are not installed)"
  skipped=$((skipped + 1))
fi

echo "packaging: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
