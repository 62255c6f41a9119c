// `--announce <multiaddr>` (repeatable) of `cairn mesh init|join|run` and `cairn serve`: the
// addresses other sites dial to reach this one when they are not those it listens on (NAT, a
// port forward). Checked here so that a bad one is refused naming the flag, before any state
// is written or any port opened.
import { InvalidOptionError } from '../../chunkstore/index.ts'

export const ANNOUNCE_HELP = 'address other sites dial to reach this one, when not the listening one (NAT, port forward), e.g. /ip4/203.0.113.7/tcp/4737 (repeatable)'

/** The checked addresses, or undefined when the flag was not given. */
export async function parseAnnounce (list: string[] | undefined): Promise<string[] | undefined> {
  if (list === undefined) return undefined
  // libp2p's multiaddr parser comes with bootstrap, which only the mesh commands load.
  const { checkAnnounceAddrs, InvalidAnnounceAddressError } = await import('../../bootstrap/index.ts')
  try {
    return checkAnnounceAddrs(list)
  } catch (err) {
    if (err instanceof InvalidAnnounceAddressError) throw new InvalidOptionError(`--announce ${err.address}: ${err.message}`, { cause: err })
    throw err
  }
}
