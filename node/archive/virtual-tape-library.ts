// A file-backed virtual tape library (F20, for tests and for sites without tape hardware): a
// changer with slots and drives, and cartridges with a barcode, a fixed capacity, filemarks,
// an end of medium and a write-protect tab. It has the semantics the archive relies on from a
// Linux `st` drive and a SCSI changer: data is appended at end of data only, a filemark ends a
// tape file, reading addresses a file by number (as `mt fsf N` would) and a byte in it.
// On disk: library.json (slots and drives), cartridges/<barcode>.img (the tape's bytes) and
// cartridges/<barcode>.json (capacity, write protection, filemark positions, end of data). The
// image is written and synced before its .json moves end of data, so after a crash bytes past
// end of data are simply not on the tape.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, statSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../../chunkstore/index.ts'
import type { TapeDrive, TapeLibrary } from './tape-library.ts'
import { ArchiveDamagedError, ArchiveDeviceUnavailableError, TapeEndOfMediaError, TapeWriteProtectedError } from './errors.ts'

/** cartridges/<barcode>.json. */
export interface CartridgeState { version: 1, capacity: number, writeProtected: boolean, marks: number[], eod: number }
/** library.json. */
export interface LibraryState { version: 1, slots: Array<string | null>, drives: Array<string | null> }

export interface VirtualTapeLibrary extends TapeLibrary {
  readonly dir: string
  /** Barcodes in the slots (null: empty slot). */
  slots: () => Array<string | null>
  /** The barcode in each drive (null: empty). */
  drives: () => Array<string | null>
  setWriteProtected: (barcode: string, on: boolean) => void
}

export interface VirtualLibraryInit { slots: number, drives: number, cartridges: Array<{ barcode: string, capacity: number }> }

/** Makes a library with blank cartridges in its first slots. */
export function createVirtualTapeLibrary (dir: string, init: VirtualLibraryInit): VirtualTapeLibrary {
  mkdirSync(join(dir, 'cartridges'), { recursive: true })
  const slots: Array<string | null> = Array.from({ length: init.slots }, (_, i) => init.cartridges[i]?.barcode ?? null)
  for (const c of init.cartridges) {
    touch(join(dir, 'cartridges', `${c.barcode}.img`))
    writeFileAtomic(join(dir, 'cartridges', `${c.barcode}.json`), JSON.stringify({ version: 1, capacity: c.capacity, writeProtected: false, marks: [], eod: 0 } satisfies CartridgeState))
  }
  writeFileAtomic(join(dir, 'library.json'), JSON.stringify({ version: 1, slots, drives: Array(init.drives).fill(null) } satisfies LibraryState))
  return openVirtualTapeLibrary(dir)
}

function touch (path: string): void { closeSync(openSync(path, 'a')) }

export function openVirtualTapeLibrary (dir: string): VirtualTapeLibrary {
  if (!existsSync(join(dir, 'library.json'))) throw new ArchiveDamagedError(dir, 'library.json', 'no virtual tape library there')
  const lib = (): LibraryState => readLibraryState(dir)
  const saveLib = (s: LibraryState): void => { writeLibraryState(dir, s) }
  const statePath = (b: string): string => join(dir, 'cartridges', `${b}.json`)
  const cart = (b: string): CartridgeState => readCartridgeState(dir, b)

  const drive = (barcode: string): TapeDrive => {
    const img = join(dir, 'cartridges', `${barcode}.img`)
    let st = cart(barcode)
    // An image cut short (a copy that stopped, a full disk under it) ends the tape where it ends.
    const size = statSync(img).size
    if (size < st.eod) st = { ...st, eod: size, marks: st.marks.filter(m => m <= size) }
    const bounds = (n: number): [number, number] => {
      const start = n === 0 ? 0 : st.marks[n - 1]
      const end = n < st.marks.length ? st.marks[n] : st.eod
      return [start, end]
    }
    return {
      barcode,
      get writeProtected () { return st.writeProtected },
      files: () => st.marks.length + (st.eod > (st.marks.at(-1) ?? 0) ? 1 : 0),
      openFile: () => st.eod > (st.marks.at(-1) ?? 0),
      fileSize: n => { const [s, e] = bounds(n); return e - s },
      read (n, offset, length) {
        const [s, e] = bounds(n)
        const want = Math.max(0, Math.min(length, e - s - offset))
        const out = Buffer.alloc(want)
        const fd = openSync(img, 'r')
        try {
          const got = want === 0 ? 0 : readSync(fd, out, 0, want, s + offset)
          return out.subarray(0, got)
        } finally { closeSync(fd) }
      },
      append (bytes) {
        if (st.writeProtected) throw new TapeWriteProtectedError(dir, [barcode])
        if (st.eod + bytes.length > st.capacity) throw new TapeEndOfMediaError(barcode)
        const fd = openSync(img, 'r+')
        try {
          let at = 0
          while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at, st.eod + at)
          fsyncSync(fd)
        } finally { closeSync(fd) }
        st = { ...st, eod: st.eod + bytes.length }
        writeFileAtomic(statePath(barcode), JSON.stringify(st))
      },
      writeFilemark () {
        if (st.writeProtected) throw new TapeWriteProtectedError(dir, [barcode])
        st = { ...st, marks: [...st.marks, st.eod] }
        writeFileAtomic(statePath(barcode), JSON.stringify(st))
      },
      overwriteFromStart () {
        if (st.writeProtected) throw new TapeWriteProtectedError(dir, [barcode])
        // End of data first: a crash between the two leaves a tape that reads as blank.
        st = { ...st, marks: [], eod: 0 }
        writeFileAtomic(statePath(barcode), JSON.stringify(st))
        truncateSync(img, 0)
      }
    }
  }

  return {
    dir,
    slots: () => lib().slots,
    drives: () => lib().drives,
    cartridges: () => { const s = lib(); return [...s.slots, ...s.drives].filter((b): b is string => b !== null) },
    load (barcode, d = 0) {
      const s = lib()
      if (s.drives[d] === barcode) return drive(barcode)
      // As a changer does: a cartridge left in a drive goes back to a free slot first.
      for (let e = 0; e < s.drives.length; e++) {
        if (s.drives[e] !== null && (e === d || s.drives[e] === barcode)) { s.slots[s.slots.indexOf(null)] = s.drives[e]; s.drives[e] = null }
      }
      const slot = s.slots.indexOf(barcode)
      if (slot < 0) throw new ArchiveDeviceUnavailableError(dir, `no cartridge ${barcode} in a slot of the library`)
      s.slots[slot] = null
      s.drives[d] = barcode
      saveLib(s)
      return drive(barcode)
    },
    unload (d = 0) {
      const s = lib()
      const b = s.drives[d]
      if (b === null) return
      const free = s.slots.indexOf(null)
      s.slots[free] = b
      s.drives[d] = null
      saveLib(s)
    },
    setWriteProtected (barcode, on) { writeFileAtomic(statePath(barcode), JSON.stringify({ ...cart(barcode), writeProtected: on })) }
  }
}

// The library's files, for its SCSI face (vtl-device-face.ts), which changes them as a changer and
// `st` drives would.
export const readLibraryState = (dir: string): LibraryState => JSON.parse(readFileSync(join(dir, 'library.json'), 'utf8')) as LibraryState
export function writeLibraryState (dir: string, s: LibraryState): void { writeFileAtomic(join(dir, 'library.json'), JSON.stringify(s)) }
export const cartridgeImage = (dir: string, barcode: string): string => join(dir, 'cartridges', `${barcode}.img`)
export const readCartridgeState = (dir: string, barcode: string): CartridgeState => JSON.parse(readFileSync(join(dir, 'cartridges', `${barcode}.json`), 'utf8')) as CartridgeState
export function writeCartridgeState (dir: string, barcode: string, s: CartridgeState): void { writeFileAtomic(join(dir, 'cartridges', `${barcode}.json`), JSON.stringify(s)) }
