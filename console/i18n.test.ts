// The console's two languages (issue 19): every string in one table is in the other with the same
// placeholders, the node's error codes the tables name exist, a refused field is named in the
// user's language, the first visit follows the browser's languages, and the node's audit actions,
// log sources, report values and durations read in Chinese.
import test from 'node:test'
import assert from 'node:assert/strict'
import { en, zh, firstLanguage, i18n } from './src/i18n.ts'
import { ApiCallError, messageOf } from './src/errors.ts'
import { readdirSync, readFileSync } from 'node:fs'
import { duration } from './src/format.ts'
import { auditActionText, jobErrorText, logText, reportValueText, sourceText } from './src/words.ts'

/** Every leaf of a table as key → text. */
function leaves (o: object, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string') out.set(prefix + k, v)
    else for (const [kk, vv] of leaves(v as object, `${prefix}${k}.`)) out.set(kk, vv)
  }
  return out
}
const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map(m => m[1]).sort()

test('zh-CN and en have the same keys, each with the same placeholders', () => {
  const e = leaves(en)
  const z = leaves(zh)
  assert.deepEqual([...z.keys()].filter(k => !e.has(k)), [], 'in Chinese only')
  assert.deepEqual([...e.keys()].filter(k => !z.has(k)), [], 'in English only')
  for (const [k, text] of e) assert.deepEqual(placeholders(z.get(k)!), placeholders(text), k)
  // A Chinese string is Chinese: none is left as the English one.
  const untranslated = [...z].filter(([k, text]) => /[a-z]{3,} [a-z]{3,} [a-z]{3,}/i.test(text) && !/[\u4e00-\u9fff]/.test(text)).map(([k]) => k)
  assert.deepEqual(untranslated, [])
})

test('every error code the tables translate is one the node has', () => {
  // The node's codes as node/api/error-status.ts lists them (read as text: console code imports no node code).
  const listed = readFileSync(new URL('../node/api/error-status.ts', import.meta.url), 'utf8')
  const HTTP_STATUS_OF_CODE = new Set([...listed.matchAll(/'([A-Z][A-Z0-9_]+)'/g)].map(m => m[1]))
  assert.ok(HTTP_STATUS_OF_CODE.has('LOGIN_FAILED') && HTTP_STATUS_OF_CODE.size > 50, 'the codes were found')
  const consoleOwn = new Set(['other', 'network', 'invalid', 'invalidField', 'HTTP_ERROR', 'SIGNING_HELPER_UNREACHABLE'])
  const unknown = Object.keys(en.apiErr).filter(c => !consoleOwn.has(c) && !HTTP_STATUS_OF_CODE.has(c))
  assert.deepEqual(unknown, [])
})

test('an error of the node reads in the user\'s language, by code and params; a refused field by its name', () => {
  i18n.global.locale.value = 'zh-CN'
  const taken = new ApiCallError(409, { name: 'UserNameTakenError', code: 'USER_NAME_TAKEN', message: 'A user named op01 exists already; choose another name', params: { name: 'op01' } })
  assert.equal(messageOf(taken), '用户名 op01 已存在，请另选名称。')
  const short = new ApiCallError(400, { name: 'RequestInvalidError', code: 'REQUEST_INVALID', message: 'body/certificate must NOT have fewer than 50 characters', params: { field: 'certificate', rule: 'minLength', limit: 50 } })
  assert.equal(messageOf(short), 'USB Key 证书：至少需要 50 个字符。')
  assert.equal(messageOf(new ApiCallError(500, { name: 'SomeNewError', code: 'SOME_NEW', message: 'x' })), '节点拒绝了请求（错误代码 SOME_NEW）。')
  i18n.global.locale.value = 'en'
  assert.equal(messageOf(short), 'USB-key certificate: needs at least 50 characters.')
})

test('the first visit follows navigator.languages; an explicit choice is kept', () => {
  assert.equal(firstLanguage(null, ['en-US', 'zh-CN']), 'en')
  assert.equal(firstLanguage(null, ['fr-FR', 'zh-TW', 'en']), 'zh-CN')
  assert.equal(firstLanguage(null, ['fr-FR']), 'zh-CN', 'the manual\'s language when the browser has none of the two')
  assert.equal(firstLanguage('zh-CN', ['en-US']), 'zh-CN', 'a choice made in the console wins')
  assert.equal(firstLanguage('en', ['zh-CN']), 'en')
})

/** The node's source files (not its tests). */
function nodeSourceFiles (dir = new URL('../node/', import.meta.url)): URL[] {
  const out: URL[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...nodeSourceFiles(new URL(`${e.name}/`, dir)))
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(new URL(e.name, dir))
  }
  return out
}

/** The node's source files, read as text (console code imports no node code). */
const nodeSources = (): string[] => nodeSourceFiles().map(f => readFileSync(f, 'utf8'))

test('every audit action and log source the node writes reads in Chinese; durations too', () => {
  const text = nodeSources().join('\n')
  // Audit actions are written as `action: '…'`, through audit(actor, '…', …), or chosen by a condition.
  const actions = new Set([...text.matchAll(/'((?:auth|mesh|node|settings|space|task|user|webhook)\.[a-z.]+|pruning)'/g)].map(m => m[1]))
  assert.ok(actions.has('task.create') && actions.has('auth.locked.refused') && actions.size > 30, `the actions were found (${actions.size})`)
  const sources = new Set([...text.matchAll(/source: '([a-z-]+)'/g)].map(m => m[1]))
  assert.ok(sources.has('scheduler') && sources.has('mailer'), 'the sources were found')
  i18n.global.locale.value = 'zh-CN'
  const untranslated = [...actions].filter(a => !/[\u4e00-\u9fff]/.test(auditActionText(a)))
  assert.deepEqual(untranslated, [], 'audit actions without Chinese words')
  assert.deepEqual([...sources].filter(s => !/[\u4e00-\u9fff]/.test(sourceText(s))), [], 'log sources without Chinese words')
  assert.equal(auditActionText('job.clean.start'), '启动：清理')
  assert.equal(sourceText('192.0.2.7'), '192.0.2.7', 'a client\'s address stays as it is')
  assert.equal(duration(193), '3 分 13 秒')
  assert.equal(reportValueText('type', 'filesystem'), '文件系统')
  assert.equal(reportValueText('lastStatus', 'success'), '成功')
  i18n.global.locale.value = 'en'
  assert.equal(duration(193), '3m 13s')
  assert.equal(auditActionText('job.clean.start'), 'Start: Clean')
})

test('every log text the node says by code has words in both languages; a line without one keeps the node\'s message', () => {
  // said(code, params) in node code: the first argument, a code or a choice between codes.
  const codes = new Set<string>()
  const text = nodeSources().join('\n')
  for (const m of text.matchAll(/\bsaid\(([^,)]+)/g)) for (const c of m[1].matchAll(/'([A-Z][A-Z0-9_]+)'/g)) codes.add(c[1])
  // node/logs/warning-texts.ts: codes in its pattern tables, and the fallbacks.
  for (const m of text.matchAll(/\['([A-Z][A-Z0-9_]+)', \//g)) codes.add(m[1])
  for (const m of text.matchAll(/'([A-Z][A-Z0-9_]+_AS_WRITTEN)'/g)) codes.add(m[1])
  assert.ok(codes.has('JOB_STARTED_BY_USER') && codes.has('SNAPSHOT_FILES') && codes.size > 30, `the codes were found (${codes.size})`)
  assert.deepEqual([...codes].filter(c => !(c in en.logMsg)), [], 'codes the console cannot word')
  assert.deepEqual(Object.keys(en.logMsg).filter(c => !codes.has(c)), [], 'words for codes the node never says')
  i18n.global.locale.value = 'zh-CN'
  assert.equal(logText({ message: 'User [op] started backup job [Nightly]', text: { code: 'JOB_STARTED_BY_USER', params: { user: 'op', type: 'backup', name: 'Nightly' } } }), '用户 [op] 启动了备份作业 [Nightly]')
  assert.equal(logText({ message: 'Reclaimed 2048 bytes (3 blocks)', text: { code: 'RECLAIMED', params: { bytesFreed: 2048, blocksRemoved: 3 } } }), '回收了 2.00 KB（3 个数据块）')
  assert.equal(logText({ message: 'an old line' }), 'an old line')
  // An error inside a line (node/logs saidError) is worded from its code and params.
  const notStarted = { message: 'Planned run of backup task [n] could not start: User space s1 is full; …', text: { code: 'SCHEDULE_NOT_STARTED', params: { task: 'n', error: 'User space s1 is full; …', errorCode: 'QUOTA_EXCEEDED', errorParams: '{"space":"s1"}' } } }
  assert.equal(logText(notStarted), '备份任务 [n] 的计划执行未能启动：用户空间 s1 已满：请扩大容量或清理旧副本')
  assert.equal(logText({ message: 'x', text: { code: 'WARN_VANISHED', params: { path: '/srv/a.txt' } } }), '/srv/a.txt：读取前已消失；不在本快照中')
  assert.equal(logText({ message: 'x', text: { code: 'NODE_CHANGED', params: { name: 'hq', fields: 'name, ownerId' } } }), '客户端 [hq] 已修改：名称、分配用户')
  assert.equal(logText({ message: 'x', text: { code: 'WARN_UNREADABLE', params: { path: '/srv/b', reason: 'EACCES' } } }), '/srv/b：无法读取（权限不足）；不在本快照中')
  assert.equal(jobErrorText({ error: 'User space s1 is full; …', errorCode: 'QUOTA_EXCEEDED', errorParams: { space: 's1' } }), '用户空间 s1 已满：请扩大容量或清理旧副本。')
  assert.equal(jobErrorText({ error: 'EIO: i/o error, read' }), 'EIO: i/o error, read', 'an error without a code stays as the node wrote it')
  i18n.global.locale.value = 'en'
  assert.equal(logText(notStarted), 'Planned run of backup task [n] could not start: User space s1 is full: raise its capacity or clean old copies')
  assert.equal(logText({ message: 'x', text: { code: 'JOB_LOG_ENDED', params: { status: 'success' } } }), 'Job ended: success')
})

/** The argument text of each call that starts at `(` in `text` (balanced parentheses; strings are not parsed, which the node's log calls do not need). */
function callArguments (text: string, open: number): string {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++
    else if (text[i] === ')' && --depth === 0) return text.slice(open + 1, i)
  }
  return text.slice(open + 1)
}

test('every log and job-log line the node writes carries a code the console words (no English-only line)', () => {
  const offenders: string[] = []
  let calls = 0
  for (const file of nodeSourceFiles()) {
    const text = readFileSync(file, 'utf8')
    // A job's log (ctx.log(level, message, text)) and the node's log list (logs.write({ …, text })).
    for (const m of text.matchAll(/\b(?:ctx\.log|logs\.write)\(/g)) {
      calls++
      const args = callArguments(text, m.index + m[0].length - 1)
      if (!/\b(?:said|\w+Said)\(|\btext\b/.test(args)) offenders.push(`${file.pathname.replace(/.*\/node\//, 'node/')}: ${args.slice(0, 100)}`)
    }
  }
  assert.ok(calls > 60, `the log calls were found (${calls})`)
  assert.deepEqual(offenders, [])
})
