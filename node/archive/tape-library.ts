// What the tape archive medium (tape-medium.ts) needs from a tape library, whatever drives it:
// the file-backed virtual library (virtual-tape-library.ts) or real hardware, a SCSI changer
// with Linux `st` drives (scsi-changer.ts, st-drive.ts).

/** One tape drive with a cartridge loaded. */
export interface TapeDrive {
  readonly barcode: string
  readonly writeProtected: boolean
  /** Files on the tape: those ended by a filemark, plus one being written after the last. */
  files: () => number
  /** True when data follows the last filemark (a file not ended yet). */
  openFile: () => boolean
  /** Bytes in file `n`; for a file on a tape of fixed-size records that this process did not write, its whole records (zero padding after the data). */
  fileSize: (n: number) => number
  read: (n: number, offset: number, length: number) => Uint8Array
  /**
   * Appends at end of data; throws TapeEndOfMediaError when it does not fit (the bytes are not
   * part of the file: at most a cut-off piece of them is, which a reader of the tape ignores).
   * A drive of fixed-size records may hold the last, partial record in memory until the next
   * append or filemark, as the `st` driver's own buffer does.
   */
  append: (bytes: Uint8Array) => void
  /** Ends the current file (filemarks fit in the early-warning zone past capacity). */
  writeFilemark: () => void
  /** Rewinds and writes from the start (a cartridge recycled): everything on it is gone, end of data at 0. */
  overwriteFromStart: () => void
}

/** A changer with slots and drives and the cartridges in them. */
export interface TapeLibrary {
  /** Every cartridge in the library, in a slot or a drive. */
  cartridges: () => string[]
  /** Moves the cartridge from its slot into a free drive (first by default); a cartridge in that drive goes back to a slot first. */
  load: (barcode: string, drive?: number) => TapeDrive
  /** Ends what the drive holds open and puts its cartridge back in a free slot. */
  unload: (drive?: number) => void
}
