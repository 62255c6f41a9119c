// Who is logged in, shared by the shell and the screens; the CSRF token goes to the API client.
import { reactive } from 'vue'
import { api, setCsrfToken, type PublicUser } from './api.ts'

export const session = reactive<{ user: PublicUser | undefined, locked: boolean, checked: boolean }>({ user: undefined, locked: false, checked: false })

export function loggedIn (user: PublicUser, csrfToken: string): void {
  setCsrfToken(csrfToken)
  session.user = user
  session.locked = sessionStorage.getItem('cairn.locked') === '1'
}

export function loggedOut (): void {
  setCsrfToken('')
  session.user = undefined
  session.locked = false
  sessionStorage.removeItem('cairn.locked')
}

/** Asks the node whether the session cookie is still good (after a reload). */
export async function restore (): Promise<void> {
  try {
    const s = await api.session()
    loggedIn(s.user, s.csrfToken)
  } catch {
    loggedOut()
  }
  session.checked = true
}

export function lock (): void {
  session.locked = true
  sessionStorage.setItem('cairn.locked', '1')
}

export function unlocked (): void {
  session.locked = false
  sessionStorage.removeItem('cairn.locked')
}
