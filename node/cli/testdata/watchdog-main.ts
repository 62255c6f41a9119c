// A process whose main thread misbehaves on purpose, for watchdog.test.ts: the daemon offers no
// request that blocks its event loop or makes a job ignore its stop (that is what issue 13 fixed),
// so the misbehaviour is staged here around the same watchdog and signal handling `cairn serve` uses.
import { startWatchdog } from '../watchdog.ts'
import { untilSignalled } from '../serve-command.ts'

const mode = process.argv[2]
if (mode === 'stall') {
  startWatchdog({ stallMs: 500 })
  process.stderr.write('ready\n')
  setTimeout(() => { for (;;) { /* the event loop never turns again */ } }, 100)
} else if (mode === 'stuck-stop') {
  const job = { name: 'Restore-stuck' }
  setInterval(() => {}, 1000) // as the daemon's server does, something keeps the process alive
  const waiting = untilSignalled({ stop: async () => await new Promise<void>(() => {}), runner: { running: () => [job] } }, signal => { process.stderr.write(`${signal}: stopping\n`) }, 300)
  process.stderr.write('ready\n')
  await waiting
  process.stderr.write('stopped\n')
} else {
  throw new Error(`usage: watchdog-main.ts stall|stuck-stop, not ${mode}`)
}
