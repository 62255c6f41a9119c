// The CLI's module entry: the polyfill first, before anything of libp2p's can load.
import '../polyfill.ts'
export { main } from './main.ts'
