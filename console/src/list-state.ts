// The state the list screens share (components/ListPage.vue shows it): the error and notice
// lines, and the item a ReauthDialog is deleting, with the notice to show once it is gone.
import { ref, type Ref } from 'vue'
import { useI18n } from 'vue-i18n'

export function useListState<T extends { name: string }> (removedMessage: string): {
  error: Ref<string>, notice: Ref<string>, removing: Ref<T | undefined>, removed: (reload: () => Promise<void>) => Promise<void>
} {
  const { t } = useI18n()
  const error = ref('')
  const notice = ref('')
  const removing = ref() as Ref<T | undefined>
  /** After the deletion: the notice naming the item, then `reload`. */
  async function removed (reload: () => Promise<void>): Promise<void> {
    notice.value = t(removedMessage, { name: removing.value?.name ?? '' })
    removing.value = undefined
    await reload()
  }
  return { error, notice, removing, removed }
}
