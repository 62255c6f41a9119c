// Type-checks the console, .vue templates included: `node console/vue-tsc.cjs --noEmit -p console/tsconfig.json`.
// vue-tsc drives TypeScript's JavaScript compiler API, which TypeScript 7 (the repo's native `tsc`)
// no longer ships; @typescript/typescript6 carries TypeScript 6's, and vue-tsc runs on that.
require('vue-tsc').run(require.resolve('@typescript/typescript6/lib/tsc.js'))
