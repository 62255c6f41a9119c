// The index's own checksums (leveldb-files.ts): a table the MANIFEST lists is checked block by
// block; a partial table that a compaction cut short by a close left behind (LevelDB never reads
// it and deletes it at its next open) is not damage. Met at scale: `cairn check` called a store
// damaged after a backup that ended during a compaction (npm run bench -- --scale).
import test from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ClassicLevel } from 'classic-level'
import { verifyLevelDb } from './leveldb-files.ts'
import { removeDir, tempDir } from './testing/index.ts'

test('only the tables the MANIFEST lists are checked: a leftover partial table is not damage, a flipped bit in a live one is', async () => {
  const dir = tempDir('cairn-leveldb-files-')
  try {
    // Written, closed and opened again: the log becomes a table at the reopen.
    for (let round = 0; round < 2; round++) {
      const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
      await db.open()
      await db.batch(Array.from({ length: 2000 }, () => ({ type: 'put' as const, key: randomBytes(36), value: randomBytes(16) })))
      await db.close()
    }
    const tables = readdirSync(dir).filter(n => n.endsWith('.ldb'))
    assert.ok(tables.length > 0, 'the index has a table')
    assert.deepEqual(verifyLevelDb(dir, { tablesToo: true }), [])
    // What a compaction interrupted by a close leaves: the start of a table, no footer.
    const live = readFileSync(join(dir, tables[0]))
    writeFileSync(join(dir, '999999.ldb'), live.subarray(0, live.length - 100))
    assert.deepEqual(verifyLevelDb(dir, { tablesToo: true }), [])
    live[10] ^= 0x40
    writeFileSync(join(dir, tables[0]), live)
    const problems = verifyLevelDb(dir, { tablesToo: true })
    assert.equal(problems.length, 1)
    assert.match(problems[0], new RegExp(`^${tables[0]}: `))
  } finally {
    removeDir(dir)
  }
})
