// node: the Cairn node — command line, (later) daemon, jobs and HTTP API. It wires the layers
// below (bootstrap, chunkstore, crypto) together; nothing below may import it.
export {}
