// Single-file components, as the TypeScript checker of plain .ts files sees them (Vite compiles them).
declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}
declare module '*.css'
