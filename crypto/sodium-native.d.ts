// The few sodium-native functions Cairn uses (the package ships no types).
declare module 'sodium-native' {
  const sodium: {
    crypto_secretbox_easy: (c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array) => void
    crypto_secretbox_open_easy: (m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array) => boolean
    crypto_secretbox_MACBYTES: number
    crypto_secretbox_NONCEBYTES: number
    crypto_secretbox_KEYBYTES: number
    crypto_scalarmult_base: (q: Uint8Array, n: Uint8Array) => void
    crypto_box_easy: (c: Uint8Array, m: Uint8Array, n: Uint8Array, pk: Uint8Array, sk: Uint8Array) => void
    crypto_box_open_easy: (m: Uint8Array, c: Uint8Array, n: Uint8Array, pk: Uint8Array, sk: Uint8Array) => boolean
  }
  export default sodium
}
