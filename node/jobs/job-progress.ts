// The one place an operation's progress events become what the job monitor shows (JobProgress,
// GET /api/jobs/:id and its event stream). Every job passes its operations' `onProgress` to
// JobContext.onProgress; a new kind of event is a new case here and nowhere else.
import type { BackupProgressEvent, CheckProgressEvent, RestoreProgressEvent } from '../../chunkstore/index.ts'
import type { JobProgress } from './job-runner.ts'
import type { MeshReplicateProgressEvent } from './mesh-jobs.ts'
import type { ArchiveVerifyProgressEvent, BlockCopyProgressEvent } from '../archive/index.ts'

/** The progress events of the operations jobs run. */
export type OperationProgress = BackupProgressEvent | RestoreProgressEvent | CheckProgressEvent | MeshReplicateProgressEvent | BlockCopyProgressEvent | ArchiveVerifyProgressEvent

export function jobProgressOf (e: OperationProgress): Partial<JobProgress> {
  switch (e.type) {
    case 'backup:progress': {
      const p = e.detail
      return { phase: p.phase, files: p.files, bytes: p.bytesRead, filesTotal: p.filesTotal, bytesTotal: p.bytesTotal, currentFile: p.currentFile }
    }
    case 'restore:progress': {
      const p = e.detail
      return { phase: 'restore', files: p.files, bytes: p.bytes, filesTotal: p.filesTotal, bytesTotal: p.bytesTotal, currentFile: p.currentFile }
    }
    // Checks and replication move blocks, not files.
    case 'check:progress': return { phase: 'verify', blocks: e.detail.blocksChecked, bytes: e.detail.bytesChecked }
    case 'mesh:replicate': return { phase: 'replicate', blocks: e.detail.blocksSent, bytes: e.detail.bytesSent }
    case 'archive:copy': return { phase: 'archive', blocks: e.detail.blocksSeen, bytes: e.detail.bytesSeen }
    case 'archive:verify': return { phase: 'verify', blocks: e.detail.blocks, bytes: e.detail.bytes }
  }
}
