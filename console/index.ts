// console: the Vue 3 web console (F26), built with Vite and served by every node's daemon.
// It talks to a node only over the HTTP API (at most `import type` of the API's DTOs);
// it must never import node, chunkstore, crypto or bootstrap code. Filled by the console
// issue; nothing here yet.
export {}
