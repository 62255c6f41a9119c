// Tree node encoding (doc/design.md "Tree nodes"): file nodes of every size decode to what was
// encoded. protons-runtime 7.1 (under ipfs-unixfs) writes a filesize from 2^31 to 2^32 - 1 as
// garbage, and such nodes (files of 2–4 GiB) could not be decoded (issue 20 found it).
import test from 'node:test'
import assert from 'node:assert/strict'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { decodeNode, encodeNode } from './tree-node.ts'
import type { FileNode } from './tree-node.ts'

const MiB = 1 << 20

async function fileOf (size: number, chunk: number): Promise<FileNode> {
  const cid = CID.createV1(0x55, await sha256.digest(new Uint8Array([1])))
  const chunks = Array.from({ length: Math.ceil(size / chunk) }, (_, i) => ({ cid, id: new Uint8Array(32).fill(i & 0xff), size: Math.min(chunk, size - i * chunk) }))
  return { kind: 'file', mode: 0o644, uid: 1, gid: 2, mtimeNs: 123n, size, chunks, sparse: false }
}

test('file nodes of 2 GiB to 4 GiB decode with their size (and below and above too)', async () => {
  for (const size of [MiB + 5, 2 ** 31 - 1, 2 ** 31, 2.5 * 2 ** 30 + 3, 2 ** 32 - 1, 2 ** 32, 5 * 2 ** 30]) {
    const node = await fileOf(size, 4 * MiB)
    const back = decodeNode(encodeNode(node)) as FileNode
    assert.equal(back.size, size)
    assert.equal(back.chunks.length, node.chunks.length)
    assert.deepEqual(back.chunks.at(-1)?.id, node.chunks.at(-1)?.id)
  }
})

test("below 2 GiB the UnixFS bytes are the library's own, so node ids do not change", async () => {
  const node = await fileOf(3 * MiB + 1, MiB)
  const u = new UnixFS({ type: 'file', blockSizes: node.chunks.map(c => BigInt(c.size)), mode: 0o644, mtime: { secs: 0n, nsecs: 123 } })
  const encoded = Buffer.from(encodeNode(node))
  assert.ok(encoded.includes(Buffer.from(u.marshal())), "the Data field holds ipfs-unixfs's own encoding")
})
