// What a sender tells replicas about retention (doc/mesh.md "Retention at replicas"): the signed
// manifest head of each snapshot root it sends, and the releases it hands on. A snapshot backed
// up here gets a head signed now with this node's key (the same bytes every time); one received
// from another site keeps the head its origin signed. Releases: this site's release intents
// (forgets), signed now, and the releases other sites' snapshots received here.
import { CID } from 'multiformats/cid'
import { signManifestHead, signRelease } from './snapshot-manifest.ts'
import { cidOf, decodeManifestPage, LocalBlockStore, type BlockStore } from '../chunkstore/index.ts'
import type { PrivateKey } from '@libp2p/interface'

export interface SignedBlock { cid: CID, bytes: Uint8Array }

export interface RetentionSource {
  /** The manifest head to send with `root`, or undefined for a root without one (made before manifests). */
  headFor: (root: CID) => Promise<SignedBlock | undefined>
  /** Releases to hand to a peer that lists their roots. */
  releases: () => Promise<Array<SignedBlock & { root: CID }>>
  /** Roots backed up here whose manifest was written after them: a peer may list them without one. */
  lateRoots: () => Promise<CID[]>
}

export interface RetentionSourceInit {
  /** The stores whose snapshots this node sends (those that are LocalBlockStores carry manifests). */
  stores: () => BlockStore[]
  /** This node's key: it signs heads and releases of the snapshots backed up here. */
  key: PrivateKey
  mesh: string
}

export function createRetentionSource (init: RetentionSourceInit): RetentionSource {
  const locals = (): LocalBlockStore[] => init.stores().filter((s): s is LocalBlockStore => s instanceof LocalBlockStore)
  const block = (bytes: Uint8Array): SignedBlock => ({ cid: cidOf(bytes), bytes })
  return {
    async headFor (root) {
      for (const s of locals()) {
        const pages = await s.manifestPages(root)
        if (pages !== undefined) {
          let blocks = 0
          let bytes = 0
          for (const p of pages) for (const e of decodeManifestPage(await s.get(p))) { blocks++; bytes += e.size }
          return block(await signManifestHead(init.key, { mesh: init.mesh, root: root.toString(), pages: pages.map(String), blocks, bytes }))
        }
        const received = await s.retention(root)
        if (received !== undefined) return { cid: CID.parse(received.head), bytes: await s.get(CID.parse(received.head)) }
      }
      return undefined
    },
    async lateRoots () {
      return (await Promise.all(locals().map(async s => await s.lateManifests()))).flat()
    },
    async releases () {
      const out: Array<SignedBlock & { root: CID }> = []
      for (const s of locals()) {
        for (const { root, time } of await s.releaseIntents()) out.push({ root, ...block(await signRelease(init.key, { mesh: init.mesh, root: root.toString(), issued: time })) })
        for (const { root, release } of await s.releases()) out.push({ root, cid: release, bytes: await s.get(release) })
      }
      return out
    }
  }
}
