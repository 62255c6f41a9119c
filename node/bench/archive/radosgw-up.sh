#!/usr/bin/env bash
# A throwaway single-host Ceph with radosgw on 127.0.0.1, for the S3 device's conformance run
# against a second, independent S3 server (issue 16; docs/bench.md "Archive", "radosgw").
# By hand, as root, never from npm test:
#   bash node/bench/archive/radosgw-up.sh up [DIR]   # prints DIR, endpoint and keys as shell lines
#   bash node/bench/archive/radosgw-up.sh down DIR   # stops every daemon it started, removes DIR
#   bash node/bench/archive/radosgw-up.sh rgw-stop|rgw-start DIR   # radosgw alone
# Needs Debian's ceph-mon, ceph-osd, radosgw and ceph-common (no ceph-mgr: pools, PGs and radosgw
# work without it; only the cluster's status reports are missing). One monitor, one OSD on
# memstore (in RAM, nothing on disk to clean up), radosgw with the beast frontend. Everything
# binds 127.0.0.1 only, on ports of its own range (RGW_PORT, default 17480; the monitor on
# RGW_PORT+1; the OSD in RGW_PORT+10..+40), with cephx off: a loopback test cluster, not a
# deployment.
set -euo pipefail

up () {
  local D=${1:-$(mktemp -d /var/tmp/cairn-radosgw.XXXXXX)}
  local P=${RGW_PORT:-17480}
  mkdir -p "$D"/{run,log,mon.a,osd.0,rgw}
  cat > "$D/ceph.conf" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon_host = v2:127.0.0.1:$((P + 1))
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
public_network = 127.0.0.0/8
ms_bind_msgr1 = false
ms_bind_port_min = $((P + 10))
ms_bind_port_max = $((P + 40))
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $D/run
admin_socket = $D/run/\$name.asok
pid_file = $D/run/\$name.pid
log_file = $D/log/\$name.log
crash_dir = $D/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
[mon]
mon_data = $D/mon.\$id
[osd]
osd_data = $D/osd.\$id
osd_objectstore = memstore
memstore_device_bytes = 2147483648
osd_max_object_size = 134217728
[client.rgw.a]
# radosgw asks for an encrypted session to the monitor by default; with cephx off there is none.
ms_mon_client_mode = crc
rgw_data = $D/rgw
rgw_frontends = beast endpoint=127.0.0.1:$P
rgw_dns_name = 127.0.0.1
EOF
  local C=(-c "$D/ceph.conf")
  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' > /dev/null
  monmaptool --create --fsid "$(ceph-conf "${C[@]}" --lookup fsid)" --addv a "[v2:127.0.0.1:$((P + 1))]" "$D/monmap" > /dev/null
  ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring"
  ceph-mon "${C[@]}" -i a
  local uuid; uuid=$(cat /proc/sys/kernel/random/uuid)
  local id; id=$(ceph "${C[@]}" osd new "$uuid")
  ceph-osd "${C[@]}" -i "$id" --mkfs --osd-uuid "$uuid" 2> "$D/log/osd-mkfs.err"
  ceph-osd "${C[@]}" -i "$id"
  for _ in $(seq 60); do ceph "${C[@]}" osd stat 2> /dev/null | grep -q '1 up' && break; sleep 1; done
  rgw-start "$D"
  local keys; keys=$(radosgw-admin "${C[@]}" user create --uid=cairn --display-name=cairn)
  echo "RGW_DIR=$D"
  echo "RGW_ENDPOINT=http://127.0.0.1:$P"
  echo "RGW_ACCESS_KEY=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).keys[0].access_key)' "$keys")"
  echo "RGW_SECRET_KEY=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).keys[0].secret_key)' "$keys")"
}

# radosgw alone, stopped and started again (s3.test.ts's server-gone-mid-archive test).
rgw-start () {
  local D=${1:?the folder radosgw-up.sh up printed}
  local P; P=$(ceph-conf -c "$D/ceph.conf" -n client.rgw.a --lookup rgw_frontends | sed 's/.*://')
  radosgw -c "$D/ceph.conf" -n client.rgw.a
  for _ in $(seq 120); do curl -s -o /dev/null "http://127.0.0.1:$P/" && return 0; sleep 1; done
  echo "radosgw did not answer on 127.0.0.1:$P (see $D/log/client.rgw.a.log)" >&2; return 1
}

rgw-stop () {
  local D=${1:?the folder radosgw-up.sh up printed}
  stop "$D/run/client.rgw.a.pid"
}

# The daemon a pid file names: TERM, then KILL if it is still there after 30 s.
stop () {
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  kill "$pid" 2> /dev/null || true
  for _ in $(seq 30); do kill -0 "$pid" 2> /dev/null || break; sleep 1; done
  kill -9 "$pid" 2> /dev/null || true
  rm -f "$1"
}

down () {
  local D=${1:?the folder radosgw-up.sh up printed}
  # Only the daemons this folder's pid files name, radosgw first, then the OSD, then the monitor.
  for name in client.rgw.a osd.0 mon.a; do stop "$D/run/$name.pid"; done
  rm -rf "$D"
}

case "${1:-}" in
  up) up "${2:-}" ;;
  down) down "${2:-}" ;;
  rgw-stop) rgw-stop "${2:-}" ;;
  rgw-start) rgw-start "${2:-}" ;;
  *) echo "usage: $0 up [DIR] | down DIR | rgw-stop DIR | rgw-start DIR" >&2; exit 2 ;;
esac
