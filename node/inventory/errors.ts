import { CairnError } from '../state/index.ts'

export class NameTakenError extends CairnError {
  override readonly name = 'NameTakenError'
  override readonly kind = 'conflict'
  constructor (what: string, name: string) { super(`A ${what} named ${name} exists already; names must be unique`) }
}

export class NotYoursError extends CairnError {
  override readonly name = 'NotYoursError'
  override readonly kind = 'not-found'
  constructor (what: string, id: string) { super(`No ${what} with id ${id} among yours`) }
}

export class AgentNotAuthorisedError extends CairnError {
  override readonly name = 'AgentNotAuthorisedError'
  override readonly kind = 'conflict'
  constructor (node: string, agent: string) { super(`Node ${node} is not authorised for agent type ${agent}; authorise it first (PATCH /api/nodes/:id agentTypes)`) }
}

export class InUseError extends CairnError {
  override readonly name = 'InUseError'
  override readonly kind = 'conflict'
  constructor (what: string, by: string) { super(`The ${what} is still used by ${by}; remove those first`) }
}

/** A source, restore target or folder an operator (or anyone, for the node's own data) may not reach. */
export class PathNotAllowedError extends CairnError {
  override readonly name = 'PathNotAllowedError'
  override readonly kind = 'forbidden'
  constructor (path: string, why: string) { super(`${path} is not allowed: ${why}`) }
}

export class PathInvalidError extends CairnError {
  override readonly name = 'PathInvalidError'
  override readonly kind = 'invalid'
  constructor (path: string, why: string) { super(`${JSON.stringify(path)}: ${why}`) }
}
