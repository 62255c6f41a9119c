// Worker-thread entry: TypeScript loads through tsx, as in the CLI (no build step).
import { register } from 'tsx/esm/api'
register()
await import('./data-worker.ts')
