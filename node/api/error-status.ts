// The HTTP status of every error code, the one place it is decided (doc/api.md "Errors"): the
// API's error handler and the signing helper answer with it. A code is the caller's to fix
// (4xx) or the node's (5xx); 500s are sent as InternalError with no details, and logged.
// node/error-codes.test.ts checks that every exported error class has a status here.
import { CairnError } from '../../crypto/index.ts'

const CODES_BY_STATUS: Record<number, readonly string[]> = {
  // Bad input: the message says what to change.
  400: [
    'REQUEST_INVALID', 'BAD_REQUEST', 'OPTION_INVALID', 'PATH_INVALID', 'TASK_INVALID', 'TASK_SCHEDULE_INVALID',
    'BANDWIDTH_SCHEDULE_INVALID', 'REPLICATION_CONFIG_INVALID', 'CONFIRMATION_REQUIRED', 'PASSWORD_WEAK',
    'CERTIFICATE_INVALID', 'CERTIFICATE_REJECTED', 'SMTP_PASSWORD_REQUIRED', 'WEBHOOK_TARGET_REFUSED',
    'RESTORE_TARGET_REFUSED', 'ESCROW_INVALID', 'RECOVERY_KEY_REJECTED', 'RECOVERY_KEY_MALFORMED',
    'WRONG_PASSPHRASE', 'TOKEN_SLOT_NOT_FOUND', 'CID_MISMATCH', 'MEMBERSHIP_INVALID', 'INVITATION_INVALID',
    'INVITATION_EXPIRED', 'INSECURE_LISTEN', 'HOLDER_REQUEST_INVALID', 'BENCH_USAGE', 'ARCHIVE_DEVICE_INVALID'
  ],
  // Not logged in, or a login or signature that failed.
  401: [
    'NOT_AUTHENTICATED', 'SESSION_EXPIRED', 'LOGIN_FAILED', 'TOKEN_CHALLENGE_FAILED', 'METRICS_TOKEN_REQUIRED',
    'WRONG_PIN', 'CHALLENGE_UNKNOWN', 'CHALLENGE_REPLAYED', 'CHALLENGE_EXPIRED', 'CHALLENGE_MISMATCH', 'SIGNATURE_INVALID'
  ],
  // Logged in, but not allowed: role, CSRF token, a recent password, a folder out of reach.
  403: ['FORBIDDEN', 'CSRF_TOKEN_INVALID', 'REAUTHENTICATION_REQUIRED', 'PATH_NOT_ALLOWED', 'HOST_NOT_ALLOWED', 'ORIGIN_NOT_ALLOWED', 'HOLDER_ACCESS_DENIED'],
  404: [
    'ROUTE_NOT_FOUND', 'ENDPOINT_NOT_FOUND', 'RECORD_NOT_FOUND', 'NOT_YOURS', 'SNAPSHOT_NOT_FOUND', 'PATH_NOT_FOUND',
    'STORE_NOT_FOUND', 'NOT_A_MEMBER', 'TOKEN_NOT_FOUND', 'TOKEN_KEY_NOT_FOUND', 'ARCHIVE_DEVICE_NOT_FOUND'
  ],
  // The request is fine but the state does not allow it now: taken names, running tasks, …
  409: [
    'NAME_TAKEN', 'USER_NAME_TAKEN', 'IN_USE', 'SELF_REMOVAL', 'AGENT_NOT_AUTHORISED', 'TASK_RUNNING', 'JOB_NOT_RUNNING',
    'NODE_UNREACHABLE', 'QUOTA_EXCEEDED', 'MESH_NOT_RUNNING', 'ESCROW_UNSUPPORTED', 'ESCROW_ADOPTED', 'MAIL_NOT_CONFIGURED',
    'STORE_EXISTS', 'STORE_IN_USE', 'REPLICA_NOT_A_STORE', 'NOT_A_STORE_FOLDER', 'LAST_SNAPSHOT', 'SHARED_REPLICA',
    'READ_ONLY_STORE', 'OPERATION_ABORTED', 'KEY_SLOT_REFUSED', 'WRITE_ONLY_KEY', 'MESH_KEY_MISSING',
    'MESH_STATE_EXISTS', 'MESH_STATE_MISSING', 'MEMBERSHIP_STALE', 'INVITATION_USED', 'HOSTED_STOP_REFUSED',
    'HOLDER_FULL_KEY_REQUIRED', 'HOLDER_WITHOUT_KEYS', 'HOLDER_READ_ONLY', 'TAPE_WRITE_PROTECTED', 'TAPE_WRONG_CARTRIDGE'
  ],
  413: ['REQUEST_TOO_LARGE', 'PAYLOAD_TOO_LARGE'],
  414: ['REQUEST_TOO_LONG'],
  415: ['MEDIA_TYPE_UNSUPPORTED', 'UNSUPPORTED_MEDIA_TYPE'],
  422: ['UNSUPPORTED_KEY'],
  423: ['ACCOUNT_LOCKED', 'TOKEN_LOCKED'],
  429: ['LOGIN_THROTTLED'],
  // The node's own failures and damage: no details go to the client; the node log has them.
  500: [
    'INTERNAL', 'DECRYPTION_FAILED', 'KEY_FILE_INVALID', 'STORE_CORRUPT', 'BLOCK_NOT_FOUND', 'BLOCK_CORRUPT',
    'WORKER_FAILED', 'RECORD_VERSION_UNSUPPORTED', 'TLS_CERTIFICATE_FAILED', 'AUDIT_KEY_INVALID',
    'PROJECT_ROOT_UNKNOWN', 'HOLDER_SOCKET_FOLDER_UNSAFE', 'BENCH_COMMAND_FAILED', 'BENCH_PHASE_FAILED', 'INDEX_DAMAGED', 'SNAPSHOT_DAMAGED',
    'RESTORE_INCOMPLETE', 'FAULTS_SETUP_FAILED', 'FAULTS_DAEMON_UNRESPONSIVE'
  ],
  501: ['CONTROL_REQUEST_UNKNOWN'],
  // Another node or a device misbehaved or refused.
  502: [
    'PROTOCOL_VIOLATION', 'FRAME_TOO_LARGE', 'REMOTE_REFUSED', 'CONTROL_REQUEST_FAILED', 'TOKEN_OPERATION_FAILED',
    'HOLDER_NOT_GENUINE', 'HOLDER_PROTOCOL_VIOLATION', 'HOLDER_OPERATION_FAILED', 'ARCHIVE_DAMAGED', 'ARCHIVE_FORMAT_INVALID'
  ],
  // Not available now; the same request may work later.
  503: [
    'STATE_CLOSED', 'PASSWORD_CHECK_BUSY', 'REPOSITORY_UNAVAILABLE', 'MAIL_FAILED', 'PEER_UNREACHABLE',
    'MESH_DAEMON_NOT_RUNNING', 'TOKEN_MODULE_NOT_FOUND', 'HOLDER_CLOSING', 'ARCHIVE_DEVICE_UNAVAILABLE'
  ],
  504: ['WEBHOOK_TIMEOUT'],
  // The node's disk is full: the operator frees space and the same request works.
  507: ['DISK_FULL', 'ARCHIVE_DEVICE_FULL', 'TAPE_END_OF_MEDIA']
}

/** Code → HTTP status. */
export const HTTP_STATUS_OF_CODE: ReadonlyMap<string, number> = new Map(
  Object.entries(CODES_BY_STATUS).flatMap(([status, codes]) => codes.map(code => [code, Number(status)] as const))
)

/** The status an error is answered with: its code's, or 500 for any error that is not a CairnError. */
export function httpStatusOf (err: unknown): number {
  return err instanceof CairnError ? HTTP_STATUS_OF_CODE.get(err.code) ?? 500 : 500
}
