// Archive medium on a tape library (F20): the pool's cartridges, each starting with a label
// file, then one tape file per archive set, each a POSIX ustar stream of the set's objects
// (packs, catalogues, roots) ended by a filemark. Open by design: `mt fsf N; tar x` gets a
// set back, and opening the medium rebuilds Cairn's index of the objects from the tapes alone.
// A set that reaches the end of a cartridge continues, from the object that did not fit, as a
// new tape file on the next cartridge of the pool.
import type { ArchiveMedium } from './archive-medium.ts'
import { ArchiveDamagedError, ArchiveDeviceFullError, ArchiveDeviceInvalidError, TapeEndOfMediaError, TapeWriteProtectedError, WrongCartridgeError } from './errors.ts'
import { parseTarHeader, TAR_BLOCK, tarHeader, tarPadding } from './tar-format.ts'
import type { TapeDrive, TapeLibrary } from './tape-library.ts'
import { throwIfAborted, type AbortOptions } from '../../crypto/index.ts'

export interface TapeMediumInit {
  device: string
  library: TapeLibrary
  /** The media pool: barcodes of the cartridges this device writes, in the order it fills them. */
  pool: string[]
}

export interface TapeMedium extends ArchiveMedium {
  /** Ends the set being written (end-of-archive blocks and a filemark), if one is open. */
  closeSet: () => void
  /** The objects on each cartridge of the pool (none: scratch). */
  volumes: () => Map<string, string[]>
  /** Makes a cartridge scratch: rewound, written from its start with its label only. */
  recycle: (barcode: string, options?: AbortOptions) => Promise<void>
}

const LABEL = 'CAIRN-LABEL.json'
interface Where { barcode: string, file: number, offset: number, size: number }

export function openTapeMedium (init: TapeMediumInit): TapeMedium {
  const { device, library, pool } = init
  const index = new Map<string, Where>()
  const full = new Set<string>()
  let current: TapeDrive | undefined
  let writing: TapeDrive | undefined
  let setOpen = false

  const mount = (barcode: string): TapeDrive => {
    if (current?.barcode === barcode) return current
    if (current !== undefined) library.unload()
    current = library.load(barcode)
    return current
  }

  /** The label of the mounted cartridge, checked against its barcode; undefined on a blank tape. */
  const checkLabel = (d: TapeDrive): boolean => {
    if (d.files() === 0) return false
    const h = parseTarHeader(d.read(0, 0, TAR_BLOCK))
    if (h?.name !== LABEL) throw new WrongCartridgeError(device, d.barcode, 'no Cairn label')
    const label = JSON.parse(Buffer.from(d.read(0, TAR_BLOCK, h.size)).toString('utf8')) as { barcode: string }
    if (label.barcode !== d.barcode) throw new WrongCartridgeError(device, d.barcode, label.barcode)
    return true
  }

  /** Reads the tar headers of every set on every cartridge of the pool. */
  for (const barcode of pool) {
    if (!library.cartridges().includes(barcode)) throw new ArchiveDamagedError(device, `cartridge ${barcode}`, 'it is not in the library')
    const d = mount(barcode)
    if (!checkLabel(d)) continue
    for (let file = 1; file < d.files(); file++) {
      const size = d.fileSize(file)
      let at = 0
      while (at + TAR_BLOCK <= size) {
        let h
        try { h = parseTarHeader(d.read(file, at, TAR_BLOCK)) } catch { break }
        if (h === undefined) break
        // A member cut off by the end of the medium or a crash is not there.
        if (at + TAR_BLOCK + h.size > size) break
        index.set(h.name, { barcode, file, offset: at + TAR_BLOCK, size: h.size })
        at += TAR_BLOCK + h.size + tarPadding(h.size)
      }
    }
  }

  /** A cartridge to write on, labelled, positioned in an open set file. */
  const writeLabel = (d: TapeDrive): void => {
    const label = Buffer.from(JSON.stringify({ version: 1, barcode: d.barcode, device }))
    d.append(Buffer.concat([tarHeader(LABEL, label.length, Date.now()), label, Buffer.alloc(tarPadding(label.length)), Buffer.alloc(2 * TAR_BLOCK)]))
    d.writeFilemark()
  }

  const writable = (): TapeDrive => {
    if (writing !== undefined && setOpen) return (writing = mount(writing.barcode))
    const candidates = pool.filter(b => !full.has(b))
    const protectedOnes: string[] = []
    for (const b of candidates) {
      const d = mount(b)
      if (d.writeProtected) { protectedOnes.push(b); continue }
      if (!checkLabel(d)) writeLabel(d)
      else if (d.openFile()) {
        // A set a crash left open: ended here; what it holds was indexed above.
        d.writeFilemark()
      }
      writing = d
      setOpen = true
      return d
    }
    if (protectedOnes.length > 0) throw new TapeWriteProtectedError(device, protectedOnes)
    throw new ArchiveDeviceFullError(device)
  }

  const endSet = (d: TapeDrive): void => {
    d.append(Buffer.alloc(2 * TAR_BLOCK))
    d.writeFilemark()
  }

  return {
    device,
    async write (name, bytes, options) {
      throwIfAborted(options?.signal, `Writing ${name} to ${device}`)
      const member = Buffer.concat([tarHeader(name, bytes.length, Date.now()), bytes, Buffer.alloc(tarPadding(bytes.length))])
      for (;;) {
        const d = writable()
        try {
          d.append(member)
        } catch (err) {
          if (!(err instanceof TapeEndOfMediaError)) throw err
          // End of this cartridge: the set goes on, from this object, on the next one.
          d.writeFilemark()
          full.add(d.barcode)
          setOpen = false
          continue
        }
        const file = d.files() - 1
        index.set(name, { barcode: d.barcode, file, offset: d.fileSize(file) - member.length + TAR_BLOCK, size: bytes.length })
        return
      }
    },
    async read (name, options = {}) {
      throwIfAborted(options.signal, `Reading ${name} from ${device}`)
      const w = index.get(name)
      if (w === undefined) throw new ArchiveDamagedError(device, name, 'no set on the tapes of the pool holds it')
      const offset = options.offset ?? 0
      const length = options.length ?? w.size - offset
      const bytes = mount(w.barcode).read(w.file, w.offset + offset, length)
      if (bytes.length < length) throw new ArchiveDamagedError(device, name, `${bytes.length} of ${length} bytes on cartridge ${w.barcode}: cut off`)
      return bytes
    },
    async * list (prefix) {
      for (const name of [...index.keys()]) if (name.startsWith(prefix)) yield name
    },
    volumes () {
      const out = new Map<string, string[]>(pool.map(b => [b, []]))
      for (const [name, w] of index) out.get(w.barcode)?.push(name)
      return out
    },
    async recycle (barcode, options) {
      throwIfAborted(options?.signal, `Recycling cartridge ${barcode} of ${device}`)
      if (writing?.barcode === barcode && setOpen) throw new ArchiveDeviceInvalidError(`Cartridge ${barcode} of ${device} holds the set being written; it is not recycled`)
      const d = mount(barcode)
      checkLabel(d)
      // Rewound and written from the start: the label again, then scratch for the next set.
      d.overwriteFromStart()
      writeLabel(d)
      for (const [name, w] of [...index]) if (w.barcode === barcode) index.delete(name)
      full.delete(barcode)
    },
    closeSet () {
      if (writing !== undefined && setOpen) {
        endSet(mount(writing.barcode))
        setOpen = false
      }
    }
  }
}
