// Two system calls Node does not offer, for real tape hardware (node/archive/tape-ioctl.ts):
// ioctl(fd, request, buffer) for the `st` driver's MTIOCTOP/MTIOCGET/MTIOCPOS, and SG_IO on a
// SCSI generic node (a medium changer). They only move bytes: the requests and answers are
// built and parsed in TypeScript (mtio.ts, smc-commands.ts). A failed call returns -errno
// rather than throwing, and TypeScript words the error with the device's name.
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <scsi/sg.h>
#include <node_api.h>

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "tape-ioctl: bad arguments"); return NULL; } } while (0)

static napi_value number (napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static int bytes_of (napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    napi_value ab;
    size_t offset;
    if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &offset) != napi_ok || type != napi_uint8_array) return -1;
    return 0;
  }
  napi_valuetype t;
  if (napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined)) { *data = NULL; *len = 0; return 0; }
  return -1;
}

// ioctl(fd, request, buffer): the ioctl's result, or -errno.
static napi_value js_ioctl (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint32_t request;
  void *data;
  size_t len;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_uint32(env, argv[1], &request));
  if (bytes_of(env, argv[2], &data, &len) != 0) { napi_throw_type_error(env, NULL, "tape-ioctl: the buffer must be a Uint8Array"); return NULL; }
  // The size is encoded in the request (bits 16-29): the buffer must hold it.
  size_t want = (request >> 16) & 0x3fff;
  if (len < want) { napi_throw_range_error(env, NULL, "tape-ioctl: the buffer is shorter than the request's size"); return NULL; }
  int r = ioctl(fd, (unsigned long)request, data);
  return number(env, r < 0 ? -errno : r);
}

// sgIo(fd, cdb, direction, data, sense, timeoutMs): direction -1 none, -2 to the device,
// -3 from it (SG_DXFER_*). Returns { status, hostStatus, driverStatus, resid, senseLength }
// or -errno.
static napi_value js_sg_io (napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, direction;
  uint32_t timeout;
  void *cdb, *data, *sense;
  size_t cdb_len, data_len, sense_len;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[2], &direction));
  CHECK(napi_get_value_uint32(env, argv[5], &timeout));
  if (bytes_of(env, argv[1], &cdb, &cdb_len) != 0 || bytes_of(env, argv[3], &data, &data_len) != 0 || bytes_of(env, argv[4], &sense, &sense_len) != 0 ||
      cdb_len == 0 || cdb_len > 16 || sense_len > 255) {
    napi_throw_type_error(env, NULL, "tape-ioctl: sgIo takes a CDB of 1-16 bytes, a data Uint8Array or null and a sense Uint8Array of at most 255 bytes");
    return NULL;
  }
  sg_io_hdr_t h;
  memset(&h, 0, sizeof h);
  h.interface_id = 'S';
  h.dxfer_direction = data_len == 0 ? SG_DXFER_NONE : direction;
  h.cmd_len = (unsigned char)cdb_len;
  h.cmdp = cdb;
  h.dxfer_len = (unsigned int)data_len;
  h.dxferp = data;
  h.mx_sb_len = (unsigned char)sense_len;
  h.sbp = sense;
  h.timeout = timeout;
  if (ioctl(fd, SG_IO, &h) < 0) return number(env, -errno);
  napi_value out;
  CHECK(napi_create_object(env, &out));
  napi_set_named_property(env, out, "status", number(env, h.status));
  napi_set_named_property(env, out, "hostStatus", number(env, h.host_status));
  napi_set_named_property(env, out, "driverStatus", number(env, h.driver_status));
  napi_set_named_property(env, out, "resid", number(env, h.resid));
  napi_set_named_property(env, out, "senseLength", number(env, h.sb_len_wr));
  return out;
}

static napi_value init (napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "ioctl", NULL, js_ioctl, NULL, NULL, NULL, napi_enumerable, NULL },
    { "sgIo", NULL, js_sg_io, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
