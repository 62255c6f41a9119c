// Errors of the node's own root modules (the base and the rules: crypto/errors.ts).
import { CairnError } from '../crypto/index.ts'

export class ProjectRootUnknownError extends CairnError {
  static override readonly code = 'PROJECT_ROOT_UNKNOWN'
  override readonly name = 'ProjectRootUnknownError'
  constructor () {
    super('Cairn was loaded without its launcher, from a bundle: start it with node/bin/cairn.js (the package\'s bin), which records where its files are.')
  }
}
