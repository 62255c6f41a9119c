#!/usr/bin/env bash
# The S3 device's conformance suite and fault tests (node/archive/s3.test.ts) against Ceph's
# radosgw instead of s3rver, by hand, as root, outside npm test (docs/bench.md "Archive", "radosgw"):
#   bash node/bench/archive/radosgw-conformance.sh
# Brings up a loopback Ceph with radosgw-up.sh, runs the file with CAIRN_S3_TEST_ENDPOINT set,
# and stops every daemon it started and removes its folder, whatever the outcome.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
UP="$ROOT/node/bench/archive/radosgw-up.sh"
D=$(mktemp -d /var/tmp/cairn-radosgw.XXXXXX)
trap 'bash "$UP" down "$D"' EXIT
eval "$(bash "$UP" up "$D")"
echo "radosgw: $(radosgw --version | cut -d' ' -f1-5) at $RGW_ENDPOINT"
cd "$ROOT"
CAIRN_S3_TEST_ENDPOINT=$RGW_ENDPOINT CAIRN_S3_TEST_ACCESS_KEY=$RGW_ACCESS_KEY CAIRN_S3_TEST_SECRET_KEY=$RGW_SECRET_KEY \
  CAIRN_S3_TEST_STOP="bash $UP rgw-stop $D" CAIRN_S3_TEST_START="bash $UP rgw-start $D" \
  node --import tsx --test --test-reporter=spec node/archive/s3.test.ts
