// Capacity planning (F28) on the node: run a scenario and get its report, write a scenario from
// this node's mesh, read the scenario schema. The planner itself is the simulation (sim/), which
// the program's entry wires in (nothing in node imports it); without one these routes answer
// PLANNER_UNAVAILABLE. Admins only: it shows every task and site, and a run takes a core.
import type { FastifyInstance } from 'fastify'
import type { ApiContext, RouteOptions } from './context.ts'
import type { MeshFacts, PlanReport } from './planning-dto.ts'
import { PlannerBusyError, PlannerUnavailableError } from './errors.ts'
import { gatherMeshFacts } from './planning-facts.ts'

/** The capacity planner a node offers: the simulation of F28, built by its factory in sim/. */
export interface CapacityPlanner {
  /** The JSON Schema of a scenario file. */
  schema: () => object
  /**
   * Checks and simulates a scenario (YAML or JSON text). A scenario that breaks the schema throws
   * the planner's ScenarioInvalidError (400) naming the field; one that cannot work as planned (a
   * backup longer than its interval, a link that never catches up) is a report with findings.
   * Yields to the event loop while it runs and stops when `signal` aborts.
   */
  run: (text: string, options?: { signal?: AbortSignal }) => Promise<PlanReport>
  /** A scenario (YAML, with what is estimated marked) from the facts of a node and its mesh. */
  scenarioFrom: (facts: MeshFacts) => string
}

/** Longest scenario text the route takes. */
export const MAX_SCENARIO_CHARS = 256 * 1024

const tags = ['planning']

export async function planningRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const planner = (): CapacityPlanner => {
    if (ctx.planner === undefined) throw new PlannerUnavailableError()
    return ctx.planner
  }
  let running = false

  app.get('/api/planning/schema', {
    config: { access: 'admin' },
    schema: { summary: 'The JSON Schema of a capacity-planning scenario (YAML or JSON)', tags }
  }, async () => planner().schema())

  app.get('/api/planning/scenario', {
    config: { access: 'admin' },
    schema: { summary: 'A scenario written from this node and its mesh (YAML): sites, roles, spaces, tasks, history, policies, bandwidth; estimates marked', tags, response: { 200: { type: 'object', properties: { scenario: { type: 'string' } } } } }
  }, async () => ({ scenario: planner().scenarioFrom(await gatherMeshFacts(ctx)) }))

  app.post<{ Body: { scenario: string } }>('/api/planning/run', {
    config: { access: 'admin' },
    bodyLimit: MAX_SCENARIO_CHARS * 4 + 1024,
    schema: {
      summary: 'Simulate a scenario and answer its report: storage per site over time, backup windows, replication lag, link use, findings, charts',
      tags,
      body: { type: 'object', additionalProperties: false, required: ['scenario'], properties: { scenario: { type: 'string', minLength: 1, maxLength: MAX_SCENARIO_CHARS } } }
    }
  }, async (req, reply) => {
    const p = planner()
    if (running) throw new PlannerBusyError()
    running = true
    // A client that goes away before its answer stops the run.
    const gone = new AbortController()
    reply.raw.once('close', () => { if (!reply.raw.writableFinished) gone.abort() })
    try {
      return await p.run(req.body.scenario, { signal: gone.signal })
    } finally {
      running = false
    }
  })
}
