#!/bin/bash
# Disk image figures (issue 20, docs/bench.md "Disk images"): the reference data set (day 1,
# then day 2's changes, from `npm run bench -- --prepare`) in ext4 on a 3 GiB GPT loop
# device, imaged with `cairn image backup` beside a file-level `cairn backup` of the same file
# system mounted read-only, and the day-2 image restored with `cairn image restore` beside
# `dd` onto the same target loop device (and with --read-back). A benchmark, not a test: it prints times and never
# fails on speed. Root only (losetup, mount). Usage: bash node/bench/disk-image.sh [ROUNDS [restore]]
set -euo pipefail
ROUNDS=${1:-2}
PHASES=${2:-all} # "restore": only the restore rounds, over the stores of the last run
CACHE=${CAIRN_BENCH_DIR:-$HOME/.cache/cairn-bench}
DAY1=$CACHE/day1
DAY2=$CACHE/day2
FIXTURE=$CACHE/image/disk1.img
W=${CAIRN_IMAGE_BENCH_WORK:-/tmp/cairn-image-bench}
CAIRN=(node "${CAIRN_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}/node/bin/cairn.js") # CAIRN_ROOT: another checkout to measure
export CAIRN_PASSPHRASE='disk image bench pass phrase'
[ -d "$DAY1" ] && [ -d "$DAY2" ] || { echo "no data set in $CACHE: run npm run bench -- --prepare" >&2; exit 2; }

LOOPS=()
cleanup () {
  mountpoint -q "$W/mnt" && umount "$W/mnt"
  for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
}
trap cleanup EXIT
attach () { # sets LOOP to a loop device over $1, its partitions scanned
  LOOP=$(losetup -f --show -P "$1"); LOOPS+=("$LOOP"); partx -u "$LOOP" 2>/dev/null || true; udevadm settle 2>/dev/null || true
  for _ in 1 2 3 4 5; do [ -b "${LOOP}p1" ] && break; sleep 1; done
}
timed () { # label command…: sync first (untimed), then the command and a sync, timed
  local label=$1; shift
  sync
  local t0; t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$W/cpu" "$@" > "$W/out" 2>&1 || { cat "$W/out" >&2; exit 1; }
  sync
  local t1; t1=$(date +%s.%N)
  printf '%-28s %7.1f s wall  %s s user+sys  load %s\n' "$label" "$(echo "$t1 - $t0" | bc)" "$(awk '{print $1 "+" $2}' "$W/cpu")" "$(cut -d' ' -f1 /proc/loadavg)"
}

if [ ! -f "$FIXTURE.done" ]; then
  echo "building $FIXTURE (day 1 in ext4 on a 3 GiB GPT disk)"
  mkdir -p "$(dirname "$FIXTURE")" "$W/mnt"
  rm -f "$FIXTURE"; truncate -s 3G "$FIXTURE"
  sgdisk -n1:2048:0 -t1:8300 -c1:data "$FIXTURE" > /dev/null
  attach "$FIXTURE"; L=$LOOP
  mkfs.ext4 -q -L refdata "${L}p1"
  mount "${L}p1" "$W/mnt"; cp -a "$DAY1/." "$W/mnt/"; umount "$W/mnt"
  losetup -d "$L"; LOOPS=()
  touch "$FIXTURE.done"
fi

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start; $(date -u +%FT%TZ)"
if [ "$PHASES" = restore ] && [ -d "$W/image" ]; then
  attach "$W/disk.img"; SRC=$LOOP
else
rm -rf "$W"; mkdir -p "$W/mnt"
cp --sparse=always "$FIXTURE" "$W/disk.img"
attach "$W/disk.img"; SRC=$LOOP
"${CAIRN[@]}" init --store "$W/files" > /dev/null
"${CAIRN[@]}" init --store "$W/image" > /dev/null
for day in 1 2; do
  if [ "$day" = 2 ]; then
    mount "${SRC}p1" "$W/mnt"; rsync -a --delete "$DAY2/" "$W/mnt/"; umount "$W/mnt"
  fi
  mount -o ro "${SRC}p1" "$W/mnt"
  timed "day $day file-level backup" "${CAIRN[@]}" backup "$W/mnt" --store "$W/files" --task files
  umount "$W/mnt"
  timed "day $day image backup" "${CAIRN[@]}" image backup "$SRC" --store "$W/image" --task image
  grep -E 'read|new' "$W/out" | sed 's/^/    /'
done
du -sh "$W/files" "$W/image" | sed 's/^/stored: /'
fi

rm -f "$W/target.img"; truncate -s 3G "$W/target.img"
attach "$W/target.img"; DST=$LOOP
SIZE=$(blockdev --getsize64 "$SRC")
for r in $(seq 1 "$ROUNDS"); do
  timed "restore round $r: dd" dd if="$SRC" of="$DST" bs=4M count=$((SIZE / 4194304)) conv=fsync
  blkdiscard -f "$DST" 2> /dev/null
  timed "restore round $r: cairn" "${CAIRN[@]}" image restore latest --store "$W/image" --target "$DST"
  sed 's/^/    /' "$W/out"
  blkdiscard -f "$DST" 2> /dev/null
  timed "restore round $r: --read-back" "${CAIRN[@]}" image restore latest --store "$W/image" --target "$DST" --read-back
  blkdiscard -f "$DST" 2> /dev/null
done
