// Builds the tape addon (tape-ioctl.c) at `npm install`, with the node-gyp npm puts on PATH
// for install scripts. It never fails the install: without a compiler (or off Linux) Cairn
// works as before and only real tape hardware (/dev/nst*, /dev/sg*) is unavailable.
import { spawnSync } from 'node:child_process'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const unavailable = (why) => {
  console.warn(`cairn: the tape addon was not built (${why}); real tape drives and changers are unavailable, virtual tape libraries work.`)
}

if (process.platform !== 'linux') {
  unavailable(`${process.platform} has no Linux st or sg driver`)
} else {
  const r = spawnSync('node-gyp', ['rebuild'], { cwd: here, encoding: 'utf8' })
  if (r.error !== undefined) unavailable(`node-gyp could not be run: ${r.error.message}`)
  else if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr)
    unavailable(`node-gyp exited with ${r.status ?? r.signal}`)
  }
}
