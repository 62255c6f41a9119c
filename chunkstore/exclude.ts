import { basename } from 'node:path'

/**
 * Exclude patterns (`--exclude GLOB`): `*` and `?` stay within one path component, `**`
 * spans components, `[...]` is a character class. A pattern without `/` is matched against
 * each entry's name; one with `/` against the whole absolute path.
 */
export function excluder (patterns: string[]): (path: string) => boolean {
  if (patterns.length === 0) return () => false
  const byName: RegExp[] = []
  const byPath: RegExp[] = []
  for (const p of patterns) (p.includes('/') ? byPath : byName).push(globToRegExp(p))
  return path => {
    const name = basename(path)
    return byName.some(r => r.test(name)) || byPath.some(r => r.test(path))
  }
}

export function globToRegExp (glob: string): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++
        if (glob[i + 1] === '/') { i++; re += '(?:.*/)?' } else re += '.*'
      } else re += '[^/]*'
    } else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1)
      if (close < 0) re += '\\['
      else { re += '[' + glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']'; i = close }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}
