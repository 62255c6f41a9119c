// bootstrap: the mesh layer — libp2p host, membership (signed member list, invitations),
// connection gating, the private Kademlia DHT and the chunk-exchange protocol (F9–F14).
// It moves ciphertext between stores; it must never need, hold or ask for a data key.
// Filled by the mesh issue; nothing here yet.
export {}
