// Stylesheets Vite bundles; the .vue files themselves are checked by vue-tsc (`npm run typecheck`).
declare module '*.css'
