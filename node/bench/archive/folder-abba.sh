#!/usr/bin/env bash
# Archive to a local folder, two checkouts A and B alternated A B B A per round, each beside a
# `cp -r` of the same segments to the same disk (docs/bench.md "Archive"), by hand:
#   bash node/bench/archive/folder-abba.sh STORE CHECKOUT_A CHECKOUT_B [ROUNDS] [WORK_DIR]
# STORE: a store (e.g. the one archive-figures.sh backs up), its passphrase in CAIRN_PASSPHRASE.
# Each timed command has a `sync` before (untimed) and after (timed); the segments are read once
# beforehand, so both sides start from the page cache. Prints wall, CPU (user+sys) and the
# 1-minute load average per run.
set -euo pipefail
S=$1; A=$2; B=$3; ROUNDS=${4:-2}
W=${5:-$(mktemp -d /var/tmp/cairn-folder-abba.XXXXXX)}
: "${CAIRN_PASSPHRASE:?set CAIRN_PASSPHRASE to the passphrase of the store}"
for r in "$A" "$B"; do node "$r/node/bin/cairn.js" --version > /dev/null; done # bundles built beforehand
cat "$S"/segments/* > /dev/null
timed () { # label command...: wall and CPU of one command, a sync after it counted
  local label=$1; shift
  local load t0 t1 u s
  load=$(cut -d' ' -f1 /proc/loadavg)
  sync; t0=$(date +%s.%N)
  /usr/bin/time -o "$W/time.txt" -f "%U %S" "$@" > /dev/null
  sync; t1=$(date +%s.%N)
  read -r u s < "$W/time.txt"
  echo "$label wall $(echo "scale=2; ($t1-$t0)/1" | bc) s, cpu $(echo "scale=2; $u+$s" | bc) s, load $load"
}
archive () { # label checkout
  rm -rf "$W/dev" "$W/devices.json"; mkdir "$W/dev"
  CAIRN_ARCHIVE_DEVICES=$W/devices.json node "$2/node/bin/cairn.js" archive device add d --type dir --path "$W/dev" > /dev/null
  CAIRN_ARCHIVE_DEVICES=$W/devices.json timed "$1" node "$2/node/bin/cairn.js" archive run --device d --store "$S"
}
# A `cp -r` right after an archive run pays ~2 s of system time (docs/bench.md, 2026-12-08), so
# one untimed copy goes first.
cpr () { rm -rf "$W/cp-copy"; cp -r "$S/segments" "$W/cp-copy"; rm -rf "$W/cp-copy"; timed cp cp -r "$S/segments" "$W/cp-copy"; rm -rf "$W/cp-copy"; }
for _ in $(seq 1 "$ROUNDS"); do
  cpr; archive A "$A"; cpr; archive B "$B"; cpr; archive B "$B"; cpr; archive A "$A"
done
echo "segments: $(du -sb "$S/segments" | cut -f1) bytes; A=$A B=$B; work folder $W (remove it)"
rm -rf "$W/dev"
