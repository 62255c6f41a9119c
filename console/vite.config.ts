// Builds the console into console/dist; the daemon serves that folder at `/` (node/api/console-static.ts).
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { fileURLToPath } from 'node:url'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [vue()],
  build: {
    outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500,
    // Rolldown's notice that plugins took most of the build time says how busy the machine was,
    // not what is wrong with the build; `npm install` runs this build and should print no warning.
    rolldownOptions: { checks: { bundlerTimings: false } }
  }
})
