// Bandwidth windows and pacing live in chunkstore/bandwidth.ts (backups are paced too); the
// mesh's modules import them from here.
export { createLimiter, rateAt, realClock, validateSchedule } from '../chunkstore/index.ts'
export type { BandwidthLimiter, BandwidthSchedule, BandwidthWindow, LimiterClock } from '../chunkstore/index.ts'
