#!/usr/bin/env bash
# Restore from a folder archive device against restore from the store it archives (docs/bench.md
# "Archive"), two checkouts A and B alternated A B B A per round, by hand, as root:
#   bash node/bench/archive/restore-abba.sh STORE DEVICE_DIR CHECKOUT_A CHECKOUT_B [ROUNDS] [cold|warm] [WORK_DIR]
# STORE: a store, its passphrase in CAIRN_PASSPHRASE; DEVICE_DIR: a folder device holding an
# archive of it (`cairn archive run`). Per run: `cairn restore latest` from STORE; then `cairn
# archive restore` (rebuild a store from the device) and `cairn restore latest` from that. `cold`
# (default) drops the page cache before each of the three (sync; echo 3 > drop_caches), `warm`
# reads the store's segments and the device's packs once beforehand instead. Prints wall and CPU
# (user+sys) of each step and the 1-minute load average.
set -euo pipefail
S=$1; D=$2; A=$3; B=$4; ROUNDS=${5:-1}; MODE=${6:-cold}
W=${7:-$(mktemp -d /var/tmp/cairn-restore-abba.XXXXXX)}
: "${CAIRN_PASSPHRASE:?set CAIRN_PASSPHRASE to the passphrase of the store}"
export CAIRN_ARCHIVE_DEVICES=$W/devices.json
rm -f "$W/devices.json"
node "$A/node/bin/cairn.js" archive device add d --type dir --path "$D" > /dev/null
mkdir -p "$W/escrow"; cp "$S/config.json" "$S/keys.json" "$W/escrow/"
for r in "$A" "$B"; do node "$r/node/bin/cairn.js" --version > /dev/null; done # bundles built beforehand
cool () {
  if [ "$MODE" = cold ]; then sync; echo 3 > /proc/sys/vm/drop_caches
  else cat "$S"/segments/* "$D"/packs/* > /dev/null; fi
}
timed () { # command...: prints "wall cpu" of one command, a sync after it counted
  local t0 t1 u s
  sync; t0=$(date +%s.%N)
  nice -n 19 /usr/bin/time -o "$W/time.txt" -f "%U %S" "$@" > /dev/null
  sync; t1=$(date +%s.%N)
  read -r u s < "$W/time.txt"
  echo "$(echo "scale=2; ($t1-$t0)/1" | bc) $(echo "scale=2; $u+$s" | bc)"
}
run () { # label checkout
  local load store rebuild restore
  load=$(cut -d' ' -f1 /proc/loadavg)
  rm -rf "$W/target" "$W/rebuilt"
  cool; store=$(timed node "$2/node/bin/cairn.js" restore latest --store "$S" --target "$W/target")
  rm -rf "$W/target"
  cool; rebuild=$(timed node "$2/node/bin/cairn.js" archive restore --device d --store "$W/rebuilt" --keys-from "$W/escrow")
  cool; restore=$(timed node "$2/node/bin/cairn.js" restore latest --store "$W/rebuilt" --target "$W/target")
  rm -rf "$W/target" "$W/rebuilt"
  set -- "$1" $store $rebuild $restore
  echo "$1 $MODE load $load | from the store: wall $2 s cpu $3 s | rebuild: wall $4 s cpu $5 s | restore from it: wall $6 s cpu $7 s | ratio $(echo "scale=2; ($4+$6)/$2" | bc)"
}
for _ in $(seq 1 "$ROUNDS"); do run A "$A"; run B "$B"; run B "$B"; run A "$A"; done
echo "A=$A B=$B; work folder $W (remove it)"
