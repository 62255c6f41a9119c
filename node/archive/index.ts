// archive: archive devices (F20) — places outside the store that keep a copy of its sealed
// blocks and snapshot roots (a local folder or NAS, S3-compatible storage, a tape library), each a BlockStore
// (chunkstore/block-store.ts) that runs the conformance suite, and the copy between a store
// and a device both ways. It must never see a key or plaintext: a device holds exactly the
// sealed bytes the store holds.
export * from './errors.ts'
export type { ArchiveMedium } from './archive-medium.ts'
export { localDirectoryMedium } from './local-directory.ts'
export type { LocalDirectoryInit } from './local-directory.ts'
export { openPackBlockStore } from './pack-block-store.ts'
export type { ArchiveSet, ExpiryResult, PackBlockStore, PackBlockStoreInit } from './pack-block-store.ts'
export { copyBlocks, verifyBlocks } from './block-copy.ts'
export { snapshotSelection } from './snapshot-selection.ts'
export type { BlockCopyResult, BlockCopyProgressEvent, BlockSelection, ArchiveVerifyResult, ArchiveVerifyProgressEvent } from './block-copy.ts'
export { scanPack, decodeCatalogue, encodeCatalogue, encodePack } from './pack-format.ts'
// s3Medium itself is loaded on use (open-device.ts): the AWS SDK costs every other archive command ~0.2 s of start-up.
export type { S3DeviceInit, S3Medium } from './s3-medium.ts'
export { createVirtualTapeLibrary, openVirtualTapeLibrary } from './virtual-tape-library.ts'
export type { VirtualTapeLibrary, VirtualLibraryInit } from './virtual-tape-library.ts'
export type { TapeDrive, TapeLibrary } from './tape-library.ts'
export { openScsiTapeLibrary } from './scsi-changer.ts'
export type { ScsiTapeLibrary, ScsiTapeLibraryInit } from './scsi-changer.ts'
export { openStDrive, DEFAULT_RECORD_SIZE } from './st-drive.ts'
export { vtlDeviceFace } from './vtl-device-face.ts'
export type { StPort, SgPort } from './tape-port.ts'
export { openTapeMedium } from './tape-medium.ts'
export type { TapeMedium, TapeMediumInit } from './tape-medium.ts'
export { openDeviceRegistry, poolOf } from './device-registry.ts'
export type { DeviceConfig, DeviceRecord, DeviceRegistry } from './device-registry.ts'
export { openArchiveDevice } from './open-device.ts'
export type { OpenDevice, OpenDeviceOptions } from './open-device.ts'
export { lockDevice } from './device-lock.ts'
export type { LockHolder, LockOptions } from './device-lock.ts'
