// sim/testing: what the capacity planner's tests and benchmarks share — the accuracy check that
// runs a real three-site mesh on stepped time beside the simulation of the same scenario. Only
// test code and sim's benchmark import this (node/layering.test.ts).
export * from './accuracy.ts'
