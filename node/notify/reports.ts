import ExcelJS from 'exceljs'
import type { User } from '../auth/index.ts'

export interface ReportTable { title: string, columns: Array<{ key: string, header: string }>, rows: Array<Record<string, string | number>> }

const csvCell = (v: string | number | undefined): string => {
  let s = v === undefined ? '' : String(v)
  // Spreadsheet formula injection (OWASP CSV injection): prefix cells that would start a formula.
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function toCsv (t: ReportTable): string {
  const lines = [t.columns.map(c => csvCell(c.header)).join(',')]
  for (const r of t.rows) lines.push(t.columns.map(c => csvCell(r[c.key])).join(','))
  return lines.join('\r\n') + '\r\n'
}

export async function toXlsx (t: ReportTable): Promise<Buffer> {
  const wb = new ExcelJS.Workbook()
  wb.creator = 'Cairn'
  const ws = wb.addWorksheet(t.title.slice(0, 31))
  ws.columns = t.columns.map(c => ({ header: c.header, key: c.key, width: Math.max(12, c.header.length + 2) }))
  ws.getRow(1).font = { bold: true }
  for (const r of t.rows) ws.addRow(r)
  return Buffer.from(await wb.xlsx.writeBuffer())
}

export type ReportKind = 'clients' | 'tasks'

/** What the report tables are made from; provided by the daemon. */
export type ReportSource = (kind: ReportKind, user: User) => Promise<ReportTable>
