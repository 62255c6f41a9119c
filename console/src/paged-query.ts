// Paged lists. usePagedQuery: a list the node pages (the current page's rows, the total, and a
// load() that keeps the error to show; reloads when the page or any of `reloadOn` changes).
// useClientPages: a short list the node sends whole, shown a page at a time.
import { computed, onMounted, ref, watch } from 'vue'
import type { ComputedRef, Ref, WatchSource } from 'vue'
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

/** A list the node sends whole, shown a page at a time (the pager under it binds `page`). */
export function useClientPages<T> (list: Ref<T[]>, pageSize = 10): { page: Ref<number>, pageSize: number, shown: ComputedRef<T[]> } {
  const page = ref(1)
  const shown = computed(() => list.value.slice((page.value - 1) * pageSize, page.value * pageSize))
  // A shorter list (after a delete or a filter) must not leave the pager past its last page.
  watch(() => list.value.length, n => { page.value = Math.min(page.value, Math.max(1, Math.ceil(n / pageSize))) })
  return { page, pageSize, shown }
}
