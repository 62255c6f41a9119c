import { CairnError } from '../../crypto/index.ts'

export class NameTakenError extends CairnError {
  static override readonly code = 'NAME_TAKEN'
  override readonly name = 'NameTakenError'
  constructor (what: string, name: string) { super(`A ${what} named ${name} exists already; names must be unique`, { params: { what, name } }) }
}

export class NotYoursError extends CairnError {
  static override readonly code = 'NOT_YOURS'
  override readonly name = 'NotYoursError'
  constructor (what: string, id: string) { super(`No ${what} with id ${id} among yours`, { params: { what, id } }) }
}

export class AgentNotAuthorisedError extends CairnError {
  static override readonly code = 'AGENT_NOT_AUTHORISED'
  override readonly name = 'AgentNotAuthorisedError'
  constructor (node: string, agent: string) { super(`Node ${node} is not authorised for agent type ${agent}; authorise it first (PATCH /api/nodes/:id agentTypes)`, { params: { node, agent } }) }
}

export class InUseError extends CairnError {
  static override readonly code = 'IN_USE'
  override readonly name = 'InUseError'
  constructor (what: string, by: string) { super(`The ${what} is still used by ${by}; remove those first`, { params: { what, by } }) }
}

/** A source, restore target or folder an operator (or anyone, for the node's own data) may not reach. */
export class PathNotAllowedError extends CairnError {
  static override readonly code = 'PATH_NOT_ALLOWED'
  override readonly name = 'PathNotAllowedError'
  constructor (path: string, why: string) { super(`${path} is not allowed: ${why}`, { params: { path, why } }) }
}

export class PathInvalidError extends CairnError {
  static override readonly code = 'PATH_INVALID'
  override readonly name = 'PathInvalidError'
  constructor (path: string, why: string) { super(`${JSON.stringify(path)}: ${why}`, { params: { path, why } }) }
}
