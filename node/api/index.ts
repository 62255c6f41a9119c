// api: the node's HTTP API (fastify): JSON under /api/, sessions, CSRF, RBAC, OpenAPI document.
// It validates every input by schema and never lets bad input crash the node.
import { authRoutes } from './auth-routes.ts'
import { userRoutes } from './user-routes.ts'
import { inventoryRoutes } from './inventory-routes.ts'
import { taskRoutes } from './task-routes.ts'
import { jobRoutes } from './job-routes.ts'
import { logRoutes } from './log-routes.ts'
import { dashboardRoutes } from './dashboard-routes.ts'
import { meshRoutes } from './mesh-routes.ts'
import { escrowRoutes } from './escrow-routes.ts'
import { planningRoutes } from './planning-routes.ts'
import { archiveRoutes } from './archive-routes.ts'
import type { RouteModule } from './context.ts'

export { createApiServer, sessionCookieName } from './server.ts'
export { consoleStatic } from './console-static.ts'
export { httpStatusOf, HTTP_STATUS_OF_CODE } from './error-status.ts'
export * from './errors.ts'
export type { ApiContext, RouteModule } from './context.ts'
export type * from './dto.ts'
export type { CapacityPlanner } from './planning-routes.ts'
export { gatherMeshFacts } from './planning-facts.ts'
export const ROUTE_MODULES: RouteModule[] = [authRoutes, userRoutes, inventoryRoutes, taskRoutes, jobRoutes, logRoutes, dashboardRoutes, meshRoutes, escrowRoutes, planningRoutes, archiveRoutes]
