// auth: users, roles, passwords (scrypt), sessions, lockout and the USB-key login step (F25, F27).
// It never stores a password or a session secret in the clear.
export * from './accounts.ts'
export * from './errors.ts'
export * from './password-hash.ts'
export * from './password-policy.ts'
