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

test('tree nodes are read as @ipld/dag-pb reads them: the same nodes, and the same errors for damaged ones', async () => {
  const { decodePb } = await import('./tree-node.ts')
  const dagPb = await import('@ipld/dag-pb')
  const cid = async (i: number): Promise<CID> => CID.createV1(0x55, await sha256.digest(new Uint8Array([i, i >> 8])))
  const names = ['a', 'é', '日本語', '', 'x'.repeat(300), Buffer.from([0xff, 0xfe, 0x41]).toString('latin1')]
  const entries = await Promise.all(Array.from({ length: 40 }, async (_, i) => ({
    name: `${names[i % names.length]}-${i}`, kind: (['file', 'dir', 'symlink'] as const)[i % 3], cid: await cid(i), id: new Uint8Array(32).fill(i),
    tsize: i * 1_000_003, size: i % 3 === 0 ? i * 2 ** 33 : 0, mtimeNs: BigInt(i) * 10n ** 18n, ctimeNs: 5n, ino: BigInt(i), dev: 2049n, nlink: 1
  })))
  const samples: Uint8Array[] = [
    encodeNode({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: 1n, entries }),
    encodeNode({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: 1n, entries: [] }),
    encodeNode(await fileOf(9 * MiB, MiB)),
    encodeNode({ kind: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, size: 0, chunks: [], sparse: false }),
    encodeNode({ kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtimeNs: 0n, target: Buffer.from('../x') }),
    // Not Cairn's: a dag-pb CID link, Data before Links, a link without Tsize.
    dagPb.encode({ Data: new Uint8Array([8, 1]), Links: [{ Hash: CID.createV1(0x70, (await cid(1)).multihash), Name: 'pb', Tsize: 3 }] }),
    dagPb.encode({ Links: [{ Hash: await cid(2) }] }),
    Buffer.concat([Buffer.from([0x0a, 0x01, 0x08]), dagPb.encode({ Links: [{ Hash: await cid(3), Name: 'late' }] })])
  ]
  // Cairn's own nodes take the fast path (their CIDs are views of the node's bytes).
  assert.equal(decodePb(samples[0]).Links[0].Hash.bytes.buffer, samples[0].buffer)
  const outcome = (f: () => unknown): unknown => { try { return { ok: f() } } catch (err) { return { error: (err as Error).message } } }
  let damaged = 0
  for (const sample of samples) {
    const variants = [sample, Buffer.from(sample)]
    for (let cut = 0; cut < sample.length; cut += Math.max(1, sample.length >> 6)) variants.push(sample.subarray(0, cut))
    for (let at = 0; at < sample.length; at += Math.max(1, sample.length >> 6)) {
      for (const v of [0x00, 0x80, 0xff, sample[at] ^ 0x10]) { const b = new Uint8Array(sample); b[at] = v; variants.push(b) }
    }
    for (const v of variants) {
      const want = outcome(() => dagPb.decode(v))
      assert.deepEqual(outcome(() => decodePb(v)), want)
      if ((want as { error?: string }).error !== undefined) damaged++
    }
  }
  assert.ok(damaged > 100, `damaged variants exercised (${damaged})`)
})
