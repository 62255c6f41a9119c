import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'
import { StoreCorruptError } from './errors.ts'
import type { Xattr } from './xattrs.ts'

/**
 * Snapshot tree nodes, version 1 (doc/design.md, "Tree nodes"). Every directory, file and
 * symlink is a dag-pb node whose Data is a UnixFS message (type, mode, mtime, block sizes)
 * followed by one extension field (number 100, JSON) that UnixFS readers skip: owner, the
 * chunk ids that unlock the linked blocks, and per-entry metadata the next backup compares
 * (the metadata cache). Links point at sealed blocks by CID. Nodes are sealed like chunks,
 * so a peer sees neither names nor structure beyond the block graph.
 */

export interface ChunkRef {
  cid: CID
  id: Uint8Array
  /** Plaintext length. */
  size: number
}

interface Meta {
  mode: number
  mtimeNs: bigint
  uid: number
  gid: number
  /** Extended attributes (ACLs, capabilities, user.*), by name; absent when there are none or they were not read. */
  xattrs?: Xattr[]
}

export interface FileNode extends Meta {
  kind: 'file'
  size: number
  chunks: ChunkRef[]
  /** The source file had holes; restore leaves all-zero chunks unwritten. */
  sparse: boolean
}

export interface SymlinkNode extends Meta {
  kind: 'symlink'
  /** The target's bytes as the kernel gave them (Linux targets need not be UTF-8). */
  target: Uint8Array
}

export interface DirEntry {
  name: string
  kind: 'file' | 'dir' | 'symlink'
  cid: CID
  id: Uint8Array
  /** Sealed size of the child's node block. */
  tsize: number
  /** Logical size (files: bytes; directories: 0). */
  size: number
  mtimeNs: bigint
  ctimeNs: bigint
  ino: bigint
  dev: bigint
  nlink: number
  /**
   * A file of exactly one chunk has no node of its own: `cid` and `id` are its chunk's, and
   * its metadata is here (the UnixFS "raw leaf" shape; one block instead of two per file).
   */
  inline?: InlineFile
}

export interface InlineFile {
  mode: number
  uid: number
  gid: number
  /** The file's own mtime (the entry's `mtimeNs` is a cache field: 0 when the file changed while read). */
  mtimeNs: bigint
  sparse: boolean
  xattrs?: Xattr[]
}

export interface DirNode extends Meta {
  kind: 'dir'
  entries: DirEntry[]
  /**
   * The entries' extended attributes were read (every backup since they are, unless
   * `--no-xattrs`). Without it, an entry without `xattrs` says nothing about the file's.
   */
  xattrsRead?: boolean
}

export type TreeNode = FileNode | SymlinkNode | DirNode

const EXT_TAG = Uint8Array.of(0xA2, 0x06) // field 100, wire type 2
const SEC = 1_000_000_000n

function unixfsMeta (m: Meta): { mode: number, mtime: { secs: bigint, nsecs: number } } {
  // Floor, not truncate: before 1970 the seconds are negative and nsecs must stay in [0, 1e9).
  let secs = m.mtimeNs / SEC
  let nsecs = m.mtimeNs % SEC
  if (nsecs < 0n) { secs -= 1n; nsecs += SEC }
  return { mode: m.mode & 0o7777, mtime: { secs, nsecs: Number(nsecs) } }
}

function withExt (unixfs: Uint8Array, ext: unknown): Uint8Array {
  const json = Buffer.from(JSON.stringify(ext))
  const len = varint(json.length)
  const out = new Uint8Array(unixfs.length + EXT_TAG.length + len.length + json.length)
  out.set(unixfs, 0)
  out.set(EXT_TAG, unixfs.length)
  out.set(len, unixfs.length + 2)
  out.set(json, unixfs.length + 2 + len.length)
  return out
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))

/** `x: [[name, base64 value], …]`, only when there are attributes (older nodes stay byte-identical). */
const xattrsField = (x: Xattr[] | undefined): { x?: Array<[string, string]> } =>
  x === undefined || x.length === 0 ? {} : { x: x.map(([n, v]) => [n, b64(v)]) }

function xattrsOf (x: unknown): Xattr[] | undefined {
  if (x === undefined) return undefined
  if (!Array.isArray(x) || !x.every(a => Array.isArray(a) && typeof a[0] === 'string' && typeof a[1] === 'string')) throw new StoreCorruptError('malformed extended attributes')
  return x.map(([n, v]: [string, string]): Xattr => [n, unb64(v)])
}

export function encodeNode (node: TreeNode): Uint8Array {
  switch (node.kind) {
    case 'file': {
      const u = new UnixFS({ type: 'file', blockSizes: node.chunks.map(c => BigInt(c.size)), ...unixfsMeta(node) })
      const data = fixFileSize(u.marshal(), u.fileSize())
      const ext = { v: 1, u: node.uid, g: node.gid, ids: node.chunks.map(c => b64(c.id)), ...(node.sparse ? { sp: 1 } : {}), ...xattrsField(node.xattrs) }
      // All links share the empty name, which keeps dag-pb's sort rule and the chunk order.
      return dagPb.encode({ Data: withExt(data, ext), Links: node.chunks.map(c => ({ Hash: c.cid, Name: '', Tsize: c.size })) })
    }
    case 'symlink': {
      const u = new UnixFS({ type: 'symlink', data: node.target, ...unixfsMeta(node) })
      return dagPb.encode({ Data: withExt(u.marshal(), { v: 1, u: node.uid, g: node.gid, ...xattrsField(node.xattrs) }), Links: [] })
    }
    case 'dir': {
      const entries = [...node.entries].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
      const u = new UnixFS({ type: 'directory', ...unixfsMeta(node) })
      const ext = {
        v: 1,
        u: node.uid,
        g: node.gid,
        ...xattrsField(node.xattrs),
        ...(node.xattrsRead === true ? { xa: 1 } : {}),
        e: entries.map(e => {
          const row: unknown[] = [e.inline !== undefined ? 'F' : e.kind[0], e.size, String(e.mtimeNs), String(e.ctimeNs), String(e.ino), String(e.dev), e.nlink, b64(e.id)]
          if (e.inline !== undefined) {
            row.push(e.inline.mode, e.inline.uid, e.inline.gid, String(e.inline.mtimeNs), e.inline.sparse ? 1 : 0)
            const x = xattrsField(e.inline.xattrs).x
            if (x !== undefined) row.push(x)
          }
          return row
        })
      }
      return dagPb.encode({ Data: withExt(u.marshal(), ext), Links: entries.map(e => ({ Hash: e.cid, Name: e.name, Tsize: e.tsize })) })
    }
  }
}

/**
 * protons-runtime 7.1 (under ipfs-unixfs) writes a uint64 from 2^31 to 2^32 - 1 as five bytes
 * of garbage: a file of 2–4 GiB got a `filesize` no reader could parse, and its node could not
 * be decoded. The field comes right after the type (08 02 18 …) and its right varint has the
 * same five bytes, so it is written over; other sizes keep the bytes they always had.
 */
function fixFileSize (unixfs: Uint8Array, size: bigint): Uint8Array {
  if (size < 2n ** 31n || size >= 2n ** 32n) return unixfs
  if (unixfs[0] !== 0x08 || unixfs[1] !== 0x02 || unixfs[2] !== 0x18) throw new StoreCorruptError('unexpected UnixFS layout for a file node')
  const right = varint(Number(size))
  unixfs.set(right, 3)
  return unixfs
}

const KIND: Record<string, DirEntry['kind']> = { f: 'file', F: 'file', d: 'dir', s: 'symlink' }

/**
 * A time for fs.utimes and friends. They take seconds as a double, and the libuv of Node 20
 * turns that into a timespec cut to whole microseconds: the double is chosen in the middle of
 * the wanted microsecond (`+ 500 ns`), so its rounding error (under 500 ns until 2106) can
 * never move the cut to a neighbouring one. To the nanosecond: nanosecond-times.ts. They
 * read a negative number as "now": before 1970 a Date (millisecond precision) is passed.
 */
export function fsTime (ns: bigint): number | Date {
  if (ns >= 0n) return Number(ns / SEC) + Number((ns % SEC) / 1000n * 1000n + 500n) / 1e9
  const ms = ns / 1_000_000n // truncates toward zero; floor it, as the kernel's negative times do
  return new Date(Number(ns % 1_000_000n === 0n ? ms : ms - 1n))
}

/** The file node an inline entry stands for (its one chunk and its metadata), else undefined. */
export function inlineFileNode (e: DirEntry): FileNode | undefined {
  if (e.inline === undefined) return undefined
  return { kind: 'file', ...e.inline, size: e.size, chunks: [{ cid: e.cid, id: e.id, size: e.size }] }
}

export function decodeNode (bytes: Uint8Array): TreeNode {
  try {
    const pb = decodePb(bytes)
    if (pb.Data === undefined) throw new StoreCorruptError('no Data')
    const { unixfs, ext } = splitExt(pb.Data)
    const u = UnixFS.unmarshal(unixfs)
    const meta: Meta = {
      mode: u.mode ?? 0,
      mtimeNs: u.mtime !== undefined ? u.mtime.secs * SEC + BigInt(u.mtime.nsecs ?? 0) : 0n,
      uid: ext.u ?? 0,
      gid: ext.g ?? 0
    }
    const xattrs = xattrsOf(ext.x)
    if (xattrs !== undefined) meta.xattrs = xattrs
    if (u.type === 'file') {
      const ids: string[] = ext.ids ?? []
      const sizes = u.blockSizes
      if (ids.length !== pb.Links.length || sizes.length !== pb.Links.length) throw new StoreCorruptError('file node links, sizes and ids disagree')
      const chunks = pb.Links.map((l, i) => ({ cid: l.Hash, id: unb64(ids[i]), size: Number(sizes[i]) }))
      return { kind: 'file', ...meta, size: Number(u.fileSize()), chunks, sparse: ext.sp === 1 }
    }
    if (u.type === 'symlink') {
      return { kind: 'symlink', ...meta, target: u.data ?? new Uint8Array() }
    }
    if (u.type === 'directory') {
      const e: any[] = ext.e ?? []
      if (e.length !== pb.Links.length) throw new StoreCorruptError('directory links and entries disagree')
      const entries = pb.Links.map((l, i): DirEntry => {
        const [k, size, mt, ct, ino, dev, nlink, id, mode, uid, gid, fmt, sparse, x] = e[i]
        const entry: DirEntry = { name: l.Name ?? '', kind: KIND[k], cid: l.Hash, id: unb64(id), tsize: l.Tsize ?? 0, size, mtimeNs: BigInt(mt), ctimeNs: BigInt(ct), ino: BigInt(ino), dev: BigInt(dev), nlink }
        if (k === 'F') {
          entry.inline = { mode, uid, gid, mtimeNs: BigInt(fmt), sparse: sparse === 1 }
          const ix = xattrsOf(x)
          if (ix !== undefined) entry.inline.xattrs = ix
        }
        return entry
      })
      return { kind: 'dir', ...meta, entries, ...(ext.xa === 1 ? { xattrsRead: true } : {}) }
    }
    throw new StoreCorruptError(`unsupported UnixFS type ${u.type}`)
  } catch (cause) {
    throw new StoreCorruptError(`A snapshot tree node could not be decoded (${(cause as Error).message}).`, { cause })
  }
}

const utf8 = new TextDecoder()

/**
 * `dagPb.decode` for the canonical nodes Cairn writes (links, then data; in each link Hash,
 * Name, Tsize in that order), with block CIDs (v1, raw, sha2-256) made as views of the node's
 * bytes: CID.decode encodes each CID again and copies it, and loading a parent snapshot's tree
 * spent a third of its time there. Anything else is handed to dagPb.decode, so both accept
 * and return exactly the same (chunkstore/tree-node.test.ts compares them).
 */
export function decodePb (bytes: Uint8Array): dagPb.PBNode {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const links: dagPb.PBLink[] = []
  let data: Uint8Array | undefined
  let i = 0
  while (i < view.length) {
    const key = view[i++]
    if (data !== undefined || (key !== 0x0a && key !== 0x12)) return dagPb.decode(bytes)
    const len = pbVarint(view, i)
    if (len === undefined || len[1] + len[0] > view.length) return dagPb.decode(bytes)
    const start = len[1]; i = start + len[0]
    if (key === 0x0a) { data = bytes.subarray(start, i); continue }
    const link = pbLink(view, start, i)
    if (link === undefined) return dagPb.decode(bytes)
    links.push(link)
  }
  return data === undefined ? { Links: links } : { Data: data, Links: links }
}

function pbLink (b: Uint8Array, i: number, end: number): dagPb.PBLink | undefined {
  if (b[i++] !== 0x0a) return undefined
  const h = pbVarint(b, i)
  if (h === undefined || h[1] + h[0] > end) return undefined
  const hash = b.subarray(h[1], h[1] + h[0])
  if (hash.length !== 36 || hash[0] !== 0x01 || hash[1] !== 0x55 || hash[2] !== 0x12 || hash[3] !== 0x20) return undefined
  const link: dagPb.PBLink = { Hash: new CID(1, 0x55, new Digest(0x12, 32, hash.subarray(4), hash.subarray(2)), hash) }
  i = h[1] + h[0]
  if (i < end && b[i] === 0x12) {
    const n = pbVarint(b, i + 1)
    if (n === undefined || n[1] + n[0] > end) return undefined
    link.Name = utf8.decode(b.subarray(n[1], n[1] + n[0]))
    i = n[1] + n[0]
  }
  if (i < end && b[i] === 0x18) {
    const t = pbVarint(b, i + 1)
    if (t === undefined) return undefined
    link.Tsize = t[0]
    i = t[1]
  }
  return i === end ? link : undefined
}

/** A protobuf varint at `i` as dag-pb reads it: [value, next index], or undefined where dag-pb would throw. */
function pbVarint (b: Uint8Array, i: number): [number, number] | undefined {
  let v = 0
  for (let shift = 0; shift < 64; shift += 7) {
    if (i >= b.length) return undefined
    const x = b[i++]
    v += shift < 28 ? (x & 0x7f) << shift : (x & 0x7f) * (2 ** shift)
    if (x < 0x80) return [v, i]
  }
  return undefined
}

function splitExt (data: Uint8Array): { unixfs: Uint8Array, ext: any } {
  // Walk the protobuf fields; the extension, when present, is the last one.
  let i = 0
  while (i < data.length) {
    const start = i
    const [tag, n1] = readVarint(data, i); i = n1
    const wire = tag & 7
    if (wire === 0) { i = readVarint(data, i)[1] } else if (wire === 2) {
      const [len, n2] = readVarint(data, i); i = n2 + len
      if (tag >>> 3 === 100) return { unixfs: data.subarray(0, start), ext: JSON.parse(Buffer.from(data.subarray(n2, i)).toString()) }
    } else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else throw new StoreCorruptError(`bad wire type ${wire}`)
  }
  return { unixfs: data, ext: {} }
}

function readVarint (b: Uint8Array, i: number): [number, number] {
  let v = 0; let shift = 0
  for (;;) {
    if (i >= b.length) throw new StoreCorruptError('truncated varint')
    const x = b[i++]
    v += (x & 0x7f) * 2 ** shift
    if ((x & 0x80) === 0) return [v, i]
    shift += 7
  }
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

