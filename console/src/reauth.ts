// A change the node wants the password again for (doc/api.md "Re-authentication"): the screen
// keeps it here while ReauthDialog asks for the password, then runs it.
import { ref, type Ref } from 'vue'

export interface PendingChange {
  title: string
  action: () => Promise<unknown>
  /** After the change went through (reload, notice, close a form). */
  done?: () => unknown
}

export function useReauth (): { pending: Ref<PendingChange | undefined>, ask: (c: PendingChange) => void, finished: () => Promise<void> } {
  const pending = ref<PendingChange>()
  return {
    pending,
    ask: c => { pending.value = c },
    finished: async () => {
      const c = pending.value
      pending.value = undefined
      await c?.done?.()
    }
  }
}
