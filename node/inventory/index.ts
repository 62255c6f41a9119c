// inventory: nodes ("clients") and user spaces, with who owns what (F21, F22). It never
// touches stored backup data; removing a space only removes its record.
export * from './inventory.ts'
export * from './errors.ts'
export * from './reach.ts'
