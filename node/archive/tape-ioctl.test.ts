// The native tape addon, built at `npm install`: it loads, passes ioctl(2) and SG_IO through,
// and reports the kernel's errno. No tape drive or changer exists here, so the calls go to a
// regular file, where the kernel answers ENOTTY (not a terminal or device that takes them).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { removeDir, tempDir } from '../../chunkstore/testing/index.ts'
import { encodeMtop, MTIOCGET, MTIOCTOP, MtOp, MTGET_SIZE } from './mtio.ts'
import { testUnitReadyCdb } from './smc-commands.ts'
import { openSgPort, openStPort, tapeAddon } from './tape-ioctl.ts'

test('tape addon: ioctl and SG_IO on a regular file answer ENOTTY, as errors naming the node', () => {
  const dir = tempDir('cairn-ioctl-')
  try {
    const file = join(dir, 'not-a-tape')
    writeFileSync(file, 'x')
    const a = tapeAddon('lib-1')
    const fd = openSync(file, 'r')
    try {
      assert.equal(a.ioctl(fd, MTIOCGET, new Uint8Array(MTGET_SIZE)), -25, 'ENOTTY is 25 on Linux')
      assert.throws(() => a.ioctl(fd, MTIOCGET, new Uint8Array(8)), /shorter than the request's size/)
    } finally { closeSync(fd) }
    const st = openStPort('lib-1', file)
    try {
      assert.throws(() => { st.ioctl(MTIOCTOP, encodeMtop(MtOp.MTREW, 1)) }, (err: Error & { code?: string }) => err.code === 'ENOTTY' && err.message.includes(file))
    } finally { st.close() }
    const sg = openSgPort('lib-1', file)
    try {
      assert.throws(() => sg.sgIo(testUnitReadyCdb(), 'none', undefined, 1000), (err: Error & { code?: string }) => err.code === 'ENOTTY' && err.message.includes('SG_IO'))
    } finally { sg.close() }
  } finally {
    removeDir(dir)
  }
})
