// The API's input rules (the JSON schemas of node/api/*-routes.ts), for the forms to check before
// they send: the same limits, so an operator sees a clear message instead of a refused request.
// console/validate.test.ts sends the same samples to a real node and checks both agree.

const length = (s: string, min: number, max: number): boolean => s.length >= min && s.length <= max

// ajv-formats' "full" formats, which the API's fastify uses.
const EMAIL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

function isIpv6 (s: string): boolean {
  if (!/^[0-9a-f:.]+$/i.test(s) || !s.includes(':')) return false
  try { return new URL(`http://[${s}]/`).hostname !== '' } catch { return false }
}

export const valid = {
  /** Tasks (and the API's name364): 3–64 characters, no control characters, no / or \. */
  taskName: (s: string): boolean => length(s, 3, 64) && !/[\u0000-\u001f/\\]/.test(s),
  /** Clients and user spaces: 1–64 characters. */
  nodeName: (s: string): boolean => length(s, 1, 64),
  spaceName: (s: string): boolean => length(s, 1, 64),
  hostname: (s: string): boolean => length(s, 1, 255),
  os: (s: string): boolean => s.length <= 128,
  version: (s: string): boolean => s.length <= 64,
  ip: (s: string): boolean => IPV4.test(s) || isIpv6(s),
  /** Users: 3–64 of A–Z a–z 0–9 _ . - */
  userName: (s: string): boolean => /^[A-Za-z0-9_.-]{3,64}$/.test(s),
  /** The node refuses weaker passwords (WeakPasswordError); the schema alone allows 1–256. */
  password: (s: string): boolean => length(s, 12, 256),
  email: (s: string): boolean => s.length <= 254 && EMAIL.test(s),
  webhookUrl: (s: string): boolean => {
    if (!/^https?:\/\//.test(s) || s.length > 2048 || /\s/.test(s)) return false
    try { return new URL(s).host !== '' } catch { return false }
  },
  port: (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535,
  smtpHost: (s: string): boolean => length(s, 1, 255),
  /** Mesh replication (PUT /api/mesh/policies): policy names 1–64 without control characters, 1–9 copies, */
  /** site names of A–Z a–z 0–9 _ . -, windows "HH:MM" (24:00 ends a day), MiB/s 0 … 1 000 000. */
  policyName: (s: string): boolean => length(s, 1, 64) && !/[\u0000-\u001f]/.test(s),
  copies: (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 9,
  siteName: (s: string): boolean => /^[A-Za-z0-9_.-]{1,64}$/.test(s),
  hhmm: (s: string): boolean => /^([01][0-9]|2[0-4]):[0-5][0-9]$/.test(s),
  mibps: (n: number): boolean => typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= 1_000_000,
  /** An invitation lives 1 to 720 hours. */
  ttlHours: (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 720,
  /** Archive devices and archive tasks (manual 2.6): 1–64 characters, no control characters, no / or \\, no spaces at either end. */
  archiveName: (s: string): boolean => length(s, 1, 64) && !/[\u0000-\u001f\u007f/\\]/.test(s) && s.trim() === s,
  /** The sender of notification mails: 3–255 characters ("Cairn <cairn@example.com>" or an address). */
  mailFrom: (s: string): boolean => length(s, 3, 255)
}
