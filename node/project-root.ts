// Where Cairn's own files are: console/dist, package.json, the demo's sample tree. The one place
// that answers it. The launcher (node/bin/launch.js) records the checkout's root before it loads
// any module, because modules run from an esbuild bundle in node_modules/.cache/cairn/<hash>/,
// where a path resolved from a module's own location (`import.meta.url`) points into the cache.
import { fileURLToPath } from 'node:url'

const RECORDED = Symbol.for('cairn.root')

export class ProjectRootUnknownError extends Error {
  override readonly name = 'ProjectRootUnknownError'
  constructor () {
    super('Cairn was loaded without its launcher, from a bundle: start it with node/bin/cairn.js (the package\'s bin), which records where its files are.')
  }
}

/** The checkout (or installed package) folder, with a trailing separator removed. */
export function projectRoot (): string {
  const recorded = (globalThis as Record<symbol, unknown>)[RECORDED]
  if (typeof recorded === 'string') return recorded.replace(/\/+$/, '')
  // Without the launcher (tests, the bench and tools import the TypeScript sources through tsx),
  // this file sits at node/project-root.ts of the checkout; bundled, it does not, and guessing
  // would serve a wrong or missing folder.
  const here = fileURLToPath(import.meta.url)
  if (!here.endsWith('/node/project-root.ts')) throw new ProjectRootUnknownError()
  return here.slice(0, -'/node/project-root.ts'.length)
}
