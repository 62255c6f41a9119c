// node: the Cairn node — the `cairn` command line (cli), the node daemon with its HTTP API and
// jobs (daemon, api, jobs, …), the mesh it runs (mesh, control), the benchmark (bench) and the fault harness (faults). It
// wires the layers below (bootstrap, chunkstore, crypto) together; nothing below may import it.
// Its folders form layers of their own, each entered through its index.ts (node/layering.test.ts):
//   bench, faults ▶ cli ▶ daemon ▶ api ▶ mesh ▶ jobs ▶ notify ▶ inventory ▶ auth ▶ holder ▶ control ▶ metrics ▶ logs ▶ state ▶ clock
// with node/testing for tests only. The package's executables are node/bin/*.js.
export {}
