// Builds the tape addon (tape-ioctl.c) at `npm install`, with the node-gyp npm puts on PATH
// for install scripts. It never fails the install: without a compiler (or off Linux) Cairn
// works as before and only real tape hardware (/dev/nst*, /dev/sg*) is unavailable.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const unavailable = (why) => {
  console.warn(`cairn: the tape addon was not built (${why}); real tape drives and changers are unavailable, virtual tape libraries work.`)
}

/**
 * node-gyp as npm runs it for install scripts (`npm_config_node_gyp`, the copy npm bundles),
 * else npm's bundled copy found beside npm itself, else whatever `node-gyp` is on PATH. npm's
 * PATH shim alone is not enough: with `npm_config_node_gyp` unset it runs `node ""`, which
 * does nothing and exits 0.
 */
function nodeGyp () {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath !== undefined ? join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js') : undefined,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  ]
  const script = candidates.find(c => c !== undefined && c !== '' && existsSync(c))
  return script !== undefined ? [process.execPath, [script]] : ['node-gyp', []]
}

const built = join(here, 'build', 'Release', 'tape_ioctl.node')
if (process.platform !== 'linux') {
  unavailable(`${process.platform} has no Linux st or sg driver`)
} else {
  const [command, args] = nodeGyp()
  // The headers of the Node that runs this, when it ships them (as Debian's and the official
  // builds do): node-gyp would otherwise download them, which an offline machine cannot.
  const prefix = join(dirname(process.execPath), '..')
  const nodedir = process.env.npm_config_nodedir === undefined && existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : []
  const r = spawnSync(command, [...args, 'rebuild', ...nodedir], { cwd: here, encoding: 'utf8' })
  if (r.error !== undefined) unavailable(`node-gyp could not be run: ${r.error.message}`)
  else if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr)
    unavailable(`node-gyp exited with ${r.status ?? r.signal}`)
  } else if (!existsSync(built)) {
    process.stderr.write(r.stdout + r.stderr)
    unavailable(`node-gyp finished without making ${built}`)
  }
}
