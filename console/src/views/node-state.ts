// How the clients screen and a client's details name a node's agent types.
import type { NodeRecord } from '../api.ts'

export const agentNames = (n: NodeRecord, t: (key: string) => string): string =>
  n.agentTypes.map(a => a === 'disk-image' ? t('task.disk') : t('task.fs')).join(', ')
