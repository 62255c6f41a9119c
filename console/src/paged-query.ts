// A list the node pages: the current page's rows, the total, and a load() that keeps the
// error to show. Reloads when the page (or any of `reloadOn`) changes.
import { onMounted, ref, watch } from 'vue'
import type { Ref, WatchSource } from 'vue'
import type { Page } from './api.ts'
import { messageOf } from './errors.ts'

export function usePagedQuery<T> (
  fetch: (page: number, pageSize: number) => Promise<Page<T>>,
  options: { pageSize?: number, reloadOn?: WatchSource[] } = {}
): { rows: Ref<T[]>, total: Ref<number>, page: Ref<number>, pageSize: number, error: Ref<string>, load: () => Promise<void> } {
  const rows = ref([]) as Ref<T[]>
  const total = ref(0)
  const page = ref(1)
  const pageSize = options.pageSize ?? 20
  const error = ref('')
  async function load (): Promise<void> {
    error.value = ''
    try {
      const r = await fetch(page.value, pageSize)
      rows.value = r.items
      total.value = r.total
    } catch (err) { error.value = messageOf(err) }
  }
  onMounted(load)
  watch([page, ...(options.reloadOn ?? [])], load)
  return { rows, total, page, pageSize, error, load }
}
