// The tape archive device on the virtual tape library, driven directly (node/testing/tape-cases.ts has the cases).
import { tapeLibraryCases } from '../testing/index.ts'
import { openVirtualTapeLibrary } from './index.ts'

tapeLibraryCases({ name: 'virtual tape library', open: openVirtualTapeLibrary })
