#!/usr/bin/env bash
# Archive figures of issue 16 (docs/bench.md "Archive"), by hand, outside npm test:
#   bash node/bench/archive/archive-figures.sh [DATA_DIR] [WORK_DIR]
# Backs up DATA_DIR (default: the bench's reference data set, ~/.cache/cairn-bench/day1) into a
# new store, then in the same run measures: archive to a local folder against `cp -r` of the
# store's segments to the same disk; archive to s3rver on 127.0.0.1 against one file of the
# same size uploaded with the same SDK's multipart upload; restore from the store against
# rebuilding a store from each device plus restoring from it. COLD=1 (root only) drops the page
# cache before the restore from the store and before each rebuild and each restore from a
# rebuilt store, so neither side reads what an earlier step left in memory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DATA=${1:-$HOME/.cache/cairn-bench/day1}
W=${2:-$(mktemp -d /var/tmp/cairn-archive-figures.XXXXXX)}
CAIRN="node $ROOT/node/bin/cairn.js"
export CAIRN_PASSPHRASE=archive-figures CAIRN_ARCHIVE_DEVICES=$W/devices.json CAIRN_S3_SECRET_KEY=S3RVER
now () { date +%s.%N; }
rate () { echo "scale=1; $1 / 1048576 / ($3 - $2)" | bc; }
secs () { echo "scale=1; ($2 - $1) / 1" | bc; }
cool () { sync; if [ "${COLD:-0}" = 1 ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }

$CAIRN init --store $W/store > /dev/null
$CAIRN backup "$DATA" --store $W/store > /dev/null
SEG=$(du -sb $W/store/segments | cut -f1)
echo "store: $(du -sh $W/store/segments | cut -f1) in segments, $(find $W/store/segments -type f | wc -l) files"

sync; t0=$(now); cp -r $W/store/segments $W/cp-copy; sync; t1=$(now)
echo "cp -r segments: $(rate $SEG $t0 $t1) MiB/s"
mkdir $W/nas
$CAIRN archive device add nas --type dir --path $W/nas > /dev/null
sync; t0=$(now); $CAIRN archive run --device nas --store $W/store > /dev/null; sync; t1=$(now)
echo "archive to folder: $(rate $SEG $t0 $t1) MiB/s"

PORT=47231
node $ROOT/node/bench/archive/s3rver-serve.mjs $W/s3 $PORT > $W/s3rver.out &
S3PID=$!
trap 'kill $S3PID 2>/dev/null || true' EXIT
while ! grep -q ready $W/s3rver.out 2>/dev/null; do sleep 0.2; done
head -c $SEG /dev/urandom > $W/one-file
echo "one file, SDK multipart upload: $(cd $ROOT && node node/bench/archive/s3-upload-one.mjs $W/one-file $PORT) MiB/s"
rm $W/one-file
$CAIRN archive device add oss --type s3 --endpoint http://127.0.0.1:$PORT --bucket archive --prefix figures/ --path-style --access-key S3RVER > /dev/null
t0=$(now); $CAIRN archive run --device oss --store $W/store > /dev/null; t1=$(now)
echo "archive to s3rver: $(rate $SEG $t0 $t1) MiB/s"

$CAIRN archive device add tape --type vtl --path $W/vtl --pool CRN001L8,CRN002L8 --create-library 4 --capacity 2T > /dev/null
t0=$(now); $CAIRN archive run --device tape --store $W/store > /dev/null; t1=$(now)
echo "archive to virtual tape: $(rate $SEG $t0 $t1) MiB/s"

cool; t0=$(now); $CAIRN restore latest --store $W/store --target $W/r-store > /dev/null; sync; t1=$(now)
echo "restore from the store: $(secs $t0 $t1) s"
rm -rf $W/r-store
mkdir $W/escrow; cp $W/store/config.json $W/store/keys.json $W/escrow/
for d in nas oss tape; do
  cool; t0=$(now)
  $CAIRN archive restore --device $d --store $W/rebuilt-$d --keys-from $W/escrow > /dev/null
  sync; t1=$(now)
  cool; t1c=$(now)
  $CAIRN restore latest --store $W/rebuilt-$d --target $W/r-$d > /dev/null
  sync; t2=$(now); t2=$(echo "$t2 - ($t1c - $t1)" | bc)
  echo "restore from $d: $(secs $t0 $t2) s (rebuild $(secs $t0 $t1) s, restore $(secs $t1 $t2) s)"
  rm -rf $W/r-$d $W/rebuilt-$d
done
echo "work folder: $W (remove it when done)"
