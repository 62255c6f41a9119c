// The POSIX ustar member header, as a tape set is written (doc/design.md "Tape set"): so
// `mt fsf N` then `tar x` gets the packs and catalogues of a set back without Cairn.
import { InternalError } from '../../crypto/index.ts'
import { ArchiveFormatError } from './errors.ts'

export const TAR_BLOCK = 512

const field = (h: Buffer, at: number, len: number, value: string): void => { h.write(value, at, len, 'ascii') }
const octal = (n: number, len: number): string => n.toString(8).padStart(len - 1, '0') + '\0'

/** The 512-byte header of a regular file `name` (at most 100 bytes) of `size` bytes. */
export function tarHeader (name: string, size: number, mtime: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new InternalError(`tar member name too long: ${name}`)
  const h = Buffer.alloc(TAR_BLOCK)
  field(h, 0, 100, name)
  field(h, 100, 8, octal(0o600, 8))
  field(h, 108, 8, octal(0, 8))
  field(h, 116, 8, octal(0, 8))
  field(h, 124, 12, octal(size, 12))
  field(h, 136, 12, octal(Math.floor(mtime / 1000), 12))
  h.fill(0x20, 148, 156)
  field(h, 156, 1, '0')
  field(h, 257, 6, 'ustar\0')
  field(h, 263, 2, '00')
  let sum = 0
  for (const b of h) sum += b
  field(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ')
  return h
}

/** Name and size of a member from its header; undefined for the end-of-archive (zero) block; throws on a damaged one. */
export function parseTarHeader (h: Uint8Array): { name: string, size: number } | undefined {
  const b = Buffer.from(h.buffer, h.byteOffset, TAR_BLOCK)
  if (b.every(x => x === 0)) return undefined
  let sum = 0
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]
  if (parseInt(b.toString('ascii', 148, 156).replace(/\0.*$/, '').trim(), 8) !== sum) throw new ArchiveFormatError('tar header checksum mismatch')
  const name = b.toString('utf8', 0, 100).replace(/\0.*$/s, '')
  return { name, size: parseInt(b.toString('ascii', 124, 136).replace(/\0.*$/, '').trim(), 8) }
}

/** Bytes of padding after a member of `size` bytes. */
export const tarPadding = (size: number): number => (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK
