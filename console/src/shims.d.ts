// Stylesheets Vite bundles; the .vue files themselves are checked by vue-tsc (console/vue-tsc.cjs).
declare module '*.css'
