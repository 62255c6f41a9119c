// `cairn repair index|snapshots|manifests`: rebuild a damaged store's index from its segments,
// write snapshots that leave out what cannot be read so the rest stays restorable, and give
// snapshots made before manifests existed their manifest (what replicas need to follow
// retention, doc/mesh.md). With
// --mesh-dir, blocks found damaged or missing are first fetched again from the mesh's other
// sites (F14). Nothing here deletes a block or a snapshot.
import { Option, type Command } from 'commander'
import { CID } from 'multiformats/cid'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidOptionError, isReplica, LocalBlockStore, openRepository, repairIndex, repairReplicaIndex } from '../../chunkstore/index.ts'
import type { LocalRepository } from '../../chunkstore/index.ts'
import { bytes, count, counted } from './format.ts'
import { storeDir, storeOptions, unlockOptions } from './store-options.ts'
import type { StoreFlags } from './store-options.ts'

/** The CLI's shared pieces (main.ts): opening a store, printing, the exit code. */
export interface RepairCommandIo {
  withRepo: <T>(flags: StoreFlags, fn: (repo: LocalRepository) => Promise<T>) => Promise<T>
  out: (s: string) => void
  json: (v: unknown) => void
  setCode: (code: number) => void
}

interface RepairFlags extends StoreFlags { meshDir?: string }

/** Exit code when the repair finished but something stays damaged (as for a backup with unread files). */
const EXIT_DAMAGE_LEFT = 3

export function registerRepairCommand (program: Command, io: RepairCommandIo): Command {
  const repair = program.command('repair').description('repair a damaged store: rebuild its index, or write snapshots without what cannot be read')
  const meshOption = (cmd: Command): Command => cmd.addOption(new Option('--mesh-dir <dir>', 'fetch damaged or missing blocks from the other sites of this mesh first (stop this node\'s mesh daemon for the store first)').env('CAIRN_MESH'))

  meshOption(storeOptions(repair.command('index'))
    .description('rebuild the whole index (block locations, chunk ids, snapshot roots) from the segments; keeps every intact record'))
    .action(async (o: RepairFlags) => {
      const dir = storeDir(o)
      // A mesh replica has no key: its block index, then its roots and locks from its signed lock records.
      if (!existsSync(join(dir, 'config.json')) && isReplica(dir)) { await repairReplica(dir, o, io); return }
      const unlock = await unlockOptions(o)
      const r = await repairIndex(dir, unlock)
      let fetched: FetchResult | undefined
      if (o.meshDir !== undefined && r.damagedBlocks.length > 0) {
        const repo = await openRepository(dir, unlock)
        try { fetched = await fetchFromPeers(o.meshDir, repo.blocks, r.damagedBlocks) } finally { await repo.close() }
      }
      const left = r.damagedBlocks.length - (fetched?.repaired.length ?? 0)
      // A range in which no damaged record could even be recognised may have held blocks nobody can name: check finds them.
      const unknown = r.damaged.filter(d => d.blocks.length === 0).length
      if (o.json === true) io.json({ ...r, repairedFromPeers: fetched?.repaired ?? [], notRepaired: fetched?.failed ?? [] })
      else {
        const damagedBytes = r.damaged.reduce((n, d) => n + d.length, 0)
        io.out(`rebuilt the index of ${dir} from ${counted(r.segments, 'segment')}: ${counted(r.blocks, 'block')}, ${counted(r.snapshots, 'snapshot')}` +
          (r.forgotten > 0 ? ` (${counted(r.forgotten, 'forgotten one')} left out)` : ''))
        if (r.damaged.length > 0) io.out(`  ${counted(r.damaged.length, 'damaged range')} (${bytes(damagedBytes)}) held no intact record:`)
        for (const d of r.damaged.slice(0, 20)) io.out(`    segment ${d.segment}, ${bytes(d.length)} at offset ${d.offset}${d.blocks.length > 0 ? `: block ${d.blocks.join(', ')}` : ''}`)
        if (r.damagedBlocks.length > 0) io.out(`  ${counted(r.damagedBlocks.length, 'block is', 'blocks are')} damaged${fetched !== undefined ? `, ${count(fetched.repaired.length)} repaired from peers` : ''}:`)
        for (const c of r.damagedBlocks.slice(0, 20)) io.out(`    ${c}${fetched?.repaired.includes(c) === true ? ' (repaired from a peer)' : ''}`)
        if (r.manifests.written.length > 0) io.out(`  wrote the manifest listings of ${counted(r.manifests.written.length, 'snapshot')} again`)
        for (const f of r.manifests.failed) io.out(`  snapshot ${f.id.slice(0, 16)} has no manifest: ${f.reason}`)
        io.out(left > 0 || unknown > 0 ? 'run "cairn check" to see which snapshots are affected, then "cairn repair snapshots"' : r.damaged.length > 0 ? 'every damaged block was repaired' : 'no damage found')
      }
      if (left > 0 || unknown > 0) io.setCode(EXIT_DAMAGE_LEFT)
    })

  meshOption(storeOptions(repair.command('snapshots'))
    .description('for each snapshot with missing or damaged blocks, write a new one without the entries that cannot be read (the damaged one stays until forgotten)')
    .argument('[snapshot...]', 'only these snapshots (ids or unique prefixes)'))
    .action(async (ids: string[], o: RepairFlags) => {
      const { fetched, repairs } = await io.withRepo(o, async repo => {
        let fetched: FetchResult | undefined
        if (o.meshDir !== undefined) {
          // A copy at another site beats leaving a file out: fetch first, then see what is still damaged.
          const bad = (await repo.check({ readData: true })).badBlocks
          if (bad.length > 0) fetched = await fetchFromPeers(o.meshDir, repo.blocks, bad)
        }
        return { fetched, repairs: await repo.repairSnapshots({ ids }) }
      })
      if (o.json === true) { io.json({ repairedFromPeers: fetched?.repaired ?? [], notRepaired: fetched?.failed ?? [], snapshots: repairs }); return }
      if (fetched !== undefined) io.out(`fetched ${counted(fetched.repaired.length, 'block')} from peers${fetched.failed.length > 0 ? `; ${count(fetched.failed.length)} no peer could supply` : ''}`)
      if (repairs.length === 0) io.out('no damaged snapshots')
      for (const r of repairs) {
        if (r.id === undefined) { io.out(`snapshot ${r.from.slice(0, 16)}: its root cannot be read; nothing to keep (forget it with "cairn forget ${r.from.slice(0, 16)}")`); continue }
        io.out(`snapshot ${r.from.slice(0, 16)} → ${r.id.slice(0, 16)}: ${counted(r.lost.length, 'entry', 'entries')} left out`)
        for (const p of r.lost.slice(0, 20)) io.out(`  left out: ${p}`)
        if (r.lost.length > 20) io.out(`  … and ${count(r.lost.length - 20)} more (see --json)`)
      }
      if (repairs.length > 0) io.out('the damaged originals are kept; forget them with "cairn forget ID" once the new ones are checked. A full backup ("cairn backup --level full") of the same files stores the lost blocks again and heals every snapshot that uses them.')
      if (repairs.some(r => r.id === undefined)) io.setCode(EXIT_DAMAGE_LEFT)
    })

  storeOptions(repair.command('manifests'))
    .description('write the manifest of every snapshot made before manifests existed (its tree is walked once), so the replicas that hold it can free its blocks once it is forgotten')
    .action(async (o: StoreFlags) => {
      const r = await io.withRepo(o, async repo => await repo.writeMissingManifests())
      if (o.json === true) io.json(r)
      else {
        io.out(r.written.length === 0 && r.failed.length === 0 ? 'every snapshot has its manifest' : `wrote the manifests of ${counted(r.written.length, 'snapshot')}; they go to the replicas with the next replication`)
        for (const f of r.failed) io.out(`  snapshot ${f.id.slice(0, 16)}: ${f.reason} (see "cairn repair snapshots")`)
      }
      if (r.failed.length > 0) io.setCode(EXIT_DAMAGE_LEFT)
    })

  return repair
}

/**
 * `cairn repair index` at a mesh replica (`--mesh-dir` names the mesh whose node key signed its
 * lock records): the block index from the segments, then the roots, locks and received releases
 * its lock records and releases prove (bootstrap/replica-rebuild.ts).
 */
async function repairReplica (dir: string, o: RepairFlags, io: RepairCommandIo): Promise<void> {
  if (o.meshDir === undefined) throw new InvalidOptionError(`${dir} is a mesh replica: pass --mesh-dir of the node that serves it, whose key signed its lock records`)
  const { loadMeshState, rebuildReplicaRetention } = await import('../../bootstrap/index.ts')
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
  const state = await loadMeshState(o.meshDir)
  const r = await repairReplicaIndex(dir)
  const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  let back
  try {
    back = await rebuildReplicaRetention(store, { mesh: state.membership.mesh, replica: peerIdFromPrivateKey(state.peerKey).toString() }, r.plain)
  } finally {
    await store.close()
  }
  const { plain: _p, ...rebuilt } = r
  if (o.json === true) { io.json({ ...rebuilt, replica: back }); return }
  io.out(`rebuilt the index of the replica ${dir} from ${counted(r.segments, 'segment')}: ${counted(r.blocks, 'block')}; ${counted(back.roots.length, 'snapshot')} listed again with ${counted(back.roots.length, 'lock')}, ${counted(back.releases, 'release')}` +
    (back.incomplete.length > 0 ? `; ${counted(back.incomplete.length, 'dropped snapshot')} left out` : ''))
  if (r.damaged.length > 0) io.out(`  ${counted(r.damaged.length, 'damaged range')}: run "cairn mesh scrub" at this node to fetch damaged blocks again`)
  if (r.damagedBlocks.length > 0) io.setCode(EXIT_DAMAGE_LEFT)
}

export interface FetchResult { repaired: string[], failed: Array<{ cid: string, reason: string }> }

/**
 * Joins the mesh in `meshDir` as this site for as long as it takes to fetch `cids` from the
 * members that hold them (each checked against its CID before it is stored). The store must
 * be this process's: a mesh daemon serving it would hold it open.
 */
export async function fetchFromPeers (meshDir: string, store: LocalBlockStore, cids: string[]): Promise<FetchResult> {
  // libp2p takes ~0.5 s to load: only a repair that needs it loads it.
  const { createMeshNode } = await import('../../bootstrap/index.ts')
  const node = await createMeshNode({ store }, { dir: meshDir, policies: [], announce: false, dialEveryMs: 500, replicateEveryMs: 3_600_000 })
  await node.start()
  try {
    // Give the members a moment to be dialled; then ask whoever answered.
    const deadline = Date.now() + 10_000
    for (;;) {
      const s = await node.status()
      if (s.members.every(m => m.self || m.connected) || Date.now() > deadline) break
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    return await node.repair(cids.map(c => CID.parse(c)))
  } finally {
    await node.stop()
  }
}
