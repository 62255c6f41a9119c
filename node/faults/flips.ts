// One flipped bit at a time, in a copy of a store: inside a data block, a tree node, a snapshot
// record, or any of the index's file kinds. `check --read-data` must name it; a repair must
// bring back everything that exists elsewhere (the segments for the index, a peer for blocks);
// no restore may hand out wrong bytes; no read-only command may change the store.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { LocalBlockStore, openRepository } from '../../chunkstore/index.ts'
import type { TreeNode } from '../../chunkstore/index.ts'
import { FAULT_KINDS, type FaultFigures, type FaultKind, type Tally } from './tally.ts'
import { cairn, cairnOk, compare, fingerprint, flipBit, fresh, initStore, makeSource, meshDaemon, mutateSource, PASSPHRASE, replicated, storeHash, type MeshDaemon } from './world.ts'
import { HarnessSetupError } from './errors.ts'

interface Target { path: string, from: number, length: number, name: string }

interface Template {
  store: string
  src: string
  /** What each snapshot must restore to, oldest first. */
  snapshots: Array<{ id: string, files: Map<string, string> }>
  blocks: Record<'data block' | 'tree node' | 'snapshot record', Array<{ cid: string, segment: number, offset: number, length: number }>>
}

export async function flipCampaign (work: string, rnd: () => number, perKind: number, withPeer: boolean, tally: Tally, kinds: readonly FaultKind[] = FAULT_KINDS): Promise<void> {
  const t = await template(work, rnd)
  let peer: { aMesh: string, B: MeshDaemon } | undefined
  if (withPeer) peer = await replica(work, t)
  try {
    for (const kind of kinds) {
      for (let i = 0; i < perKind; i++) await oneFlip(work, rnd, t, kind, tally.faults[kind], tally.problems, peer?.aMesh)
    }
  } finally {
    await peer?.B.kill()
  }
}

async function template (work: string, rnd: () => number): Promise<Template> {
  const base = fresh(join(work, 'flip-template'))
  const src = join(base, 'src')
  const store = join(base, 'store')
  makeSource(src, rnd, 40, 600 << 10)
  await initStore(store, { kind: 'fixed', size: 128 << 10 })
  const snapshots: Template['snapshots'] = []
  for (let i = 0; i < 2; i++) {
    if (i > 0) mutateSource(src, rnd, 0.3, 600 << 10)
    const r = await cairnOk(['backup', src, '--store', store, '--json'])
    snapshots.push({ id: JSON.parse(r.stdout).id, files: fingerprint(src) })
  }
  // A writing open compacts the index's log into a table, so every index file kind exists.
  await (await LocalBlockStore.open(join(store, 'index'), join(store, 'segments'))).close()
  const blocks: Template['blocks'] = { 'data block': [], 'tree node': [], 'snapshot record': [] }
  const repo = await openRepository(store, { passphrase: PASSPHRASE, readOnly: true })
  try {
    const seen = new Set<string>()
    const add = async (kind: keyof Template['blocks'], cid: CID): Promise<void> => {
      const s = cid.toString()
      if (seen.has(s)) return
      seen.add(s)
      const loc = await repo.blocks.location(cid)
      if (loc !== undefined) blocks[kind].push({ cid: s, ...loc })
    }
    const walk = async (node: TreeNode): Promise<void> => {
      if (node.kind === 'file') { for (const c of node.chunks) await add('data block', c.cid); return }
      if (node.kind !== 'dir') return
      for (const e of node.entries) {
        if (e.inline !== undefined) { await add('data block', e.cid); continue }
        await add('tree node', e.cid)
        await walk(await repo.loadNode(e))
      }
    }
    for (const s of await repo.snapshots()) {
      await add('snapshot record', CID.parse(s.id))
      const root = { cid: CID.parse(s.root), id: new Uint8Array(Buffer.from(s.rootId!, 'base64')) }
      await add('tree node', root.cid)
      await walk(await repo.loadNode(root))
    }
  } finally {
    await repo.close()
  }
  return { store, src, snapshots, blocks }
}

/** A second site holding a replica of the template store (its blocks and roots), running. */
async function replica (work: string, t: Template): Promise<{ aMesh: string, B: MeshDaemon }> {
  const aMesh = join(work, 'flip-a-mesh')
  const bMesh = join(work, 'flip-b-mesh')
  await cairnOk(['mesh', 'init', '--mesh-dir', aMesh, '--site', 'a', '--role', 'head', '--listen', '/ip4/127.0.0.1/tcp/0'])
  await cairnOk(['mesh', 'policy', '--mesh-dir', aMesh, '--copies', '2'])
  const A = await meshDaemon(aMesh, t.store)
  const invitation = (await A.control('invite', { ttlMs: 3_600_000 })).invitation as string
  await cairnOk(['mesh', 'join', invitation, '--mesh-dir', bMesh, '--site', 'b', '--role', 'dr', '--listen', '/ip4/127.0.0.1/tcp/0'])
  const B = await meshDaemon(bMesh, join(work, 'flip-b-store'))
  if (!await replicated(A, t.snapshots.length)) throw new HarnessSetupError('the replica site did not receive the template store')
  await A.kill() // repairs join the mesh as A themselves
  return { aMesh, B }
}

function target (t: Template, store: string, kind: FaultKind, rnd: () => number): Target {
  if (kind === 'data block' || kind === 'tree node' || kind === 'snapshot record') {
    const list = t.blocks[kind]
    const b = list[Math.floor(rnd() * list.length)]
    return { path: join(store, 'segments', `${String(b.segment).padStart(8, '0')}.seg`), from: b.offset, length: b.length, name: b.cid }
  }
  const pattern = { 'index .ldb': /^\d+\.ldb$/, 'index .log': /^\d+\.log$/, 'index MANIFEST': /^MANIFEST-\d+$/, 'index CURRENT': /^CURRENT$/ }[kind]
  const files = readdirSync(join(store, 'index')).filter(n => pattern.test(n) && statSync(join(store, 'index', n)).size > 0).sort()
  const name = files[Math.floor(rnd() * files.length)]
  return { path: join(store, 'index', name), from: 0, length: statSync(join(store, 'index', name)).size, name }
}

async function oneFlip (work: string, rnd: () => number, t: Template, kind: FaultKind, f: FaultFigures, problems: string[], aMesh?: string): Promise<void> {
  const store = join(fresh(join(work, 'flip')), 'store')
  execFileSync('cp', ['-a', t.store, store])
  const where = target(t, store, kind, rnd)
  const offset = where.from + Math.floor(rnd() * where.length)
  flipBit(where.path, offset, Math.floor(rnd() * 8))
  f.injected++
  const label = `${kind} (${where.name} at ${offset})`

  // Detection: check names the damage; nothing read-only writes.
  const before = storeHash(store)
  const check = await cairn(['check', '--read-data', '--store', store])
  const said = check.stdout + check.stderr
  const named = kind.startsWith('index') ? /index/.test(said) && said.includes('cairn repair index') || said.includes(where.name) : said.includes(where.name)
  if (check.code !== 0 && named) f.detected++
  else problems.push(`${label}: not detected (check exited ${String(check.code)}): ${said.slice(0, 300)}`)
  // A restore of the newest snapshot before any repair: whatever it writes must be right.
  const newest = t.snapshots[t.snapshots.length - 1]
  const out = fresh(join(work, 'flip-out'))
  await cairn(['restore', newest.id, '--target', out, '--store', store])
  f.silentlyWrong += compare(fingerprint(out).size === 0 ? new Map() : fingerprint(join(out, t.src)), newest.files).wrong.length
  if (storeHash(store) !== before) f.readOnlyChanged++

  // Repair: the index from the segments; blocks from the peer when there is one.
  if (kind.startsWith('index')) {
    const r = await cairn(['repair', 'index', '--store', store])
    if (r.code === 0 && await whole(work, t, store)) f.repairedFromSegments++
    else { f.lostWithCopy++; problems.push(`${label}: repair index did not bring everything back: ${r.stdout}${r.stderr}`) }
    return
  }
  if (aMesh !== undefined) {
    const r = await cairn(['repair', 'snapshots', '--store', store, '--mesh-dir', aMesh, '--json'])
    const fetched = r.code === 0 ? (JSON.parse(r.stdout).repairedFromPeers as string[]) : []
    if (fetched.includes(where.name) && await whole(work, t, store)) f.repairedFromPeer++
    else { f.lostWithCopy++; problems.push(`${label}: not repaired from the peer: ${r.stdout.slice(0, 300)}${r.stderr}`) }
    return
  }
  // No other copy: the damaged part is lost; everything else must still restore.
  const r = await cairn(['repair', 'snapshots', '--store', store, '--json'])
  if (r.code !== 0 && r.code !== 3) { problems.push(`${label}: repair snapshots exited ${String(r.code)}: ${r.stderr}`); return }
  f.lostNoCopy++
  const more = await wholeBut(work, t, store)
  if (more !== undefined) { f.lostWithCopy++; problems.push(`${label}: more than the damaged part was lost: ${more}`) }
}

/** check --read-data passes and every snapshot restores byte for byte. */
async function whole (work: string, t: Template, store: string): Promise<boolean> {
  if ((await cairn(['check', '--read-data', '--store', store])).code !== 0) return false
  for (const s of t.snapshots) {
    const out = fresh(join(work, 'flip-out'))
    const r = await cairn(['restore', s.id, '--target', out, '--store', store])
    const c = compare(fingerprint(join(out, t.src)), s.files)
    if (r.code !== 0 || c.missing.length + c.wrong.length + c.extra.length > 0) return false
  }
  return true
}

/** After `repair snapshots` without a peer: the latest readable snapshot restores everything it still lists, right. */
async function wholeBut (work: string, t: Template, store: string): Promise<string | undefined> {
  // A damaged snapshot record with no other copy stays listed as damaged (exit 3): the rest is what counts.
  const listed = await cairn(['snapshots', '--json', '--store', store])
  if (listed.code !== 0 && listed.code !== 3) return `snapshots exited ${String(listed.code)}: ${listed.stderr}`
  const list = JSON.parse(listed.stdout) as Array<{ id: string, repaired?: { from: string, lost: string[] } }>
  for (const s of list) {
    const original = t.snapshots.find(x => x.id === (s.repaired?.from ?? s.id))
    if (original === undefined || list.some(x => x.repaired?.from === s.id)) continue // the damaged one; its stand-in is checked
    const out = fresh(join(work, 'flip-out'))
    const r = await cairn(['restore', s.id, '--target', out, '--store', store])
    // Lost paths are absolute; one at or above the source folder (a damaged node on the way down to it) loses all of it.
    const lost = s.repaired?.lost ?? []
    const all = lost.some(l => t.src === l || t.src.startsWith(`${l}/`))
    const below = lost.filter(l => l.startsWith(`${t.src}/`)).map(l => l.slice(t.src.length + 1))
    const want = all ? new Map() : new Map([...original.files].filter(([p]) => !below.some(l => p === l || p.startsWith(`${l}/`))))
    // A stand-in that lost everything restores no folder at all.
    const c = compare(existsSync(join(out, t.src)) ? fingerprint(join(out, t.src)) : new Map(), want)
    if (r.code !== 0 || c.missing.length + c.wrong.length + c.extra.length > 0) {
      return `snapshot ${s.id}${s.repaired === undefined ? '' : ` (stands in for ${s.repaired.from}, lost ${JSON.stringify(s.repaired.lost)})`}: restore exited ${String(r.code)}, missing ${JSON.stringify(c.missing.slice(0, 5))}, wrong ${JSON.stringify(c.wrong.slice(0, 5))}, extra ${JSON.stringify(c.extra.slice(0, 5))} ${r.stderr.slice(0, 300)}`
    }
  }
  return undefined
}
