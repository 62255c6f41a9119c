// Listing a snapshot (Repository.ls): the whole subtree, or a page of one folder's own entries, as
// the console's restore tree asks for them (issue 19: folders load as they are opened).
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createStore, removeDir, tempDir } from './testing/index.ts'

const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })

test('ls with children lists one folder\'s own entries from an offset; without, the whole subtree', async () => {
  const w = tempDir()
  dirs.push(w)
  const src = join(w, 'src')
  mkdirSync(join(src, 'many', 'deep'), { recursive: true })
  for (let i = 0; i < 30; i++) writeFileSync(join(src, 'many', `f${String(i).padStart(2, '0')}.txt`), `file ${i}\n`)
  writeFileSync(join(src, 'many', 'deep', 'inner.txt'), 'inner\n')
  const repo = await createStore(join(w, 'store'))
  try {
    const snap = await repo.backup({ paths: [src] })
    const list = async (path: string, options?: { children?: boolean, offset?: number }): Promise<string[]> => {
      const out: string[] = []
      for await (const e of repo.ls(snap.id, path, options)) out.push(e.path.slice(src.length))
      return out
    }
    const all = await list(src)
    assert.ok(all.includes('/many/deep/inner.txt'), 'the subtree by default')
    assert.equal(all.length, 1 + 1 + 30 + 1)
    const own = await list(join(src, 'many'), { children: true })
    assert.equal(own.length, 31, 'the folder\'s own 30 files and 1 folder, not the folder\'s inner file')
    assert.equal(own.includes('/many/deep'), true)
    assert.equal(own.includes('/many/deep/inner.txt'), false)
    assert.deepEqual(await list(join(src, 'many'), { children: true, offset: 29 }), own.slice(29), 'from the offset on')
    assert.deepEqual(await list(join(src, 'many'), { children: true, offset: 31 }), [])
  } finally { await repo.close() }
})
