export async function main (_argv: string[]): Promise<number> {
  console.error('cairn: not built yet')
  return 1
}
