// F4: every cipher suite a store can be created with backs up, restores byte for byte, and
// has a flipped byte in a sealed block caught by check --read-data.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync, writeSync, readSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { initRepository, openRepository } from './index.ts'

const kdf = { N: 1024, r: 8, p: 1 }

for (const cipher of ['xsalsa20-poly1305', 'aes-256-gcm', 'sm4']) {
  test(`a ${cipher} store round-trips and detects a flipped byte`, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cairn-suite-'))
    try {
      const src = join(tmp, 'src')
      mkdirSync(src)
      writeFileSync(join(src, 'random.bin'), randomBytes(3 << 20))
      writeFileSync(join(src, 'text.txt'), 'the quick brown fox '.repeat(50_000))
      const store = join(tmp, 'store')
      const config = await initRepository(store, { passphrase: 'pw', cipher, kdf })
      assert.equal(config.cipher, cipher)
      let repo = await openRepository(store, { passphrase: 'pw' })
      await repo.backup({ paths: [src] })
      const target = join(tmp, 'restore')
      await repo.restore({ snapshot: 'latest', target })
      for (const f of ['random.bin', 'text.txt']) assert.ok(readFileSync(join(target, src, f)).equals(readFileSync(join(src, f))), f)
      assert.deepEqual((await repo.check({ readData: true })).errors, [])
      await repo.close()

      // Flip one byte in the middle of the largest segment: a sealed data block.
      const segs = readdirSync(join(store, 'segments')).map(n => join(store, 'segments', n))
      const seg = segs.sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0]
      const fd = openSync(seg, 'r+')
      const at = Math.floor(readFileSync(seg).length / 2)
      const b = Buffer.alloc(1); readSync(fd, b, 0, 1, at); b[0] ^= 0x01; writeSync(fd, b, 0, 1, at); closeSync(fd)
      repo = await openRepository(store, { passphrase: 'pw' })
      const r = await repo.check({ readData: true })
      await repo.close()
      assert.equal(r.errors.length, 1, r.errors.join('\n'))
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  })
}
