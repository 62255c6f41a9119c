// Every string the console shows, in Simplified Chinese (the manual's language) and English.
import { createI18n } from 'vue-i18n'

const en = {
  app: { title: 'Cairn backup mesh', lang: 'Language', lock: 'Lock screen', logout: 'Log out', password: 'Change password', loading: 'Loading…', refresh: 'Refresh', cancel: 'Cancel', ok: 'OK', next: 'Next', back: 'Back', save: 'Save', actions: 'Actions', none: 'Nothing here yet', page: 'Page {page} of {pages}', prev: 'Previous', nextPage: 'Next', total: '{n} in all' },
  nav: { home: 'Home', tasks: 'Backup tasks', monitor: 'Monitor', history: 'History', restore: 'Restore', data: 'Data management', nodes: 'Clients', spaces: 'User spaces', logs: 'Logs', users: 'Users', reports: 'Reports', drills: 'DR drills', me: 'My account', notify: 'Notifications', audit: 'Audit trail' },
  login: { title: 'Log in to Cairn', user: 'User name', password: 'Password', submit: 'Log in', tokenTitle: 'USB key', tokenHint: 'This account needs its USB key. Plug it in and enter the PIN; the local signing helper asks the key to sign.', tokenLabel: 'Token label', keyLabel: 'Key label', pin: 'PIN', helper: 'Signing helper address', required: 'Enter the user name and the password' },
  lock: { title: 'Screen locked', hint: 'Enter {user}’s password to unlock', unlock: 'Unlock' },
  pw: { current: 'Current password', next: 'New password (at least 12 characters)', done: 'Password changed', short: 'The new password needs at least 12 characters' },
  home: { uptime: 'System uptime', storage: 'Storage', capacity: 'Total', used: 'Used', free: 'Free', volume: 'Daily backup volume', running: 'Running tasks', nodes: 'Nodes online', spaces: 'User spaces', tasks: 'Backup tasks', failed: 'Failed jobs (7 days)' },
  task: { new: 'Create backup task', name: 'Task name', node: 'Client', space: 'User space', agent: 'Agent type', sources: 'Sources', mode: 'Backup mode', created: 'Created', start: 'Start', stop: 'Stop', edit: 'Edit', delete: 'Delete', history: 'History', level: 'Backup level', remark: 'Remark', full: 'Full', incremental: 'Incremental', manual: 'Manual', scheduled: 'Scheduled', deleteTitle: 'Delete task {name}', typeYes: 'Type YES to confirm', passwordAgain: 'Your password (re-authentication)', started: 'Job {name} started', fs: 'File system', disk: 'Disk image' },
  wiz: { step1: 'Client', step2: 'Sources', step3: 'Options', step4: 'Schedules', step5: 'Name', include: 'Included paths', exclude: 'Exclude patterns (one per line)', browse: 'Browse', up: 'Up', add: 'Add', remove: 'Remove', dedup: 'Deduplication', compression: 'Compression (zstd level, 0 = off)', retention: 'Retention', forever: 'Keep forever', policy: 'By copies / days', copies: 'Copies', days: 'Days', exclusive: 'Back up files held open', small: 'Many small files mode', addSchedule: 'Add schedule', kind: 'Kind', startDate: 'Start date', time: 'Time', weekdays: 'Week days', monthdays: 'Days of month (1–31, comma separated)', every: 'Every (minutes, ≥ 10)', create: 'Create task', errName: 'The name needs 3 to 64 characters without / \\ or control characters', errNode: 'Choose a client and a user space', errSources: 'Add at least one absolute path', errSchedule: 'Each schedule needs a start date and time; weekly/monthly need days; interval at least 10 minutes', errCompression: 'Compression: 0 or -7 … 19', errCopies: 'Copies and days must be positive whole numbers', once: 'Once', daily: 'Daily', weekly: 'Weekly', monthly: 'Monthly', interval: 'Interval', tz: 'Time zone' },
  job: { name: 'Job', type: 'Type', status: 'Status', started: 'Started', ended: 'Ended', duration: 'Duration', bytes: 'Data', files: 'Files', speed: 'Speed', eta: 'Time left', current: 'Current file', log: 'Log', progress: 'Progress', live: 'Live', user: 'User', trigger: 'Trigger', running: 'running', success: 'success', warning: 'warning', failed: 'failed', stopped: 'stopped', noneRunning: 'No job is running', idle: 'idle' },
  restore: { space: 'User space', task: 'Backup task', snapshot: 'Point in time', files: 'Files', target: 'Target', targetNode: 'Target client', path: 'Redirect path (empty: the original location)', conflict: 'When a file exists', overwrite: 'Overwrite', skip: 'Skip existing', 'keep-newer': 'Keep the newer', submit: 'Start restore', all: 'Whole snapshot (nothing selected)', selected: '{n} selected', started: 'Restore job {name} started' },
  data: { backup: 'Backup size', stored: 'Stored size', copies: 'Copies', runs: 'Runs', from: 'From', to: 'To', query: 'Query', clean: 'Clean', cleanSnapshot: 'Clean selected copies', cleanTask: 'Clean all copies of the task', leftover: 'Clean leftovers of failed runs', snapshots: 'Copies', started: 'Clean job {name} started' },
  node: { name: 'Name', host: 'Host name', os: 'OS', version: 'Version', ip: 'IP', agents: 'Authorised agent types', lastSeen: 'Last seen', state: 'State', online: 'online', offline: 'offline', local: 'this node', edit: 'Edit', saved: 'Saved' },
  space: { name: 'Name', type: 'Type', node: 'Client', capacity: 'Capacity', used: 'Used', usage: 'Usage', cipher: 'Cipher', dedup: 'Dedup scope', backup: 'Backup', replication: 'Replication', owner: 'Owner', new: 'Create user space', capacityGiB: 'Capacity (GiB)' },
  log: { time: 'Time', type: 'Type', level: 'Level', user: 'User', source: 'Source', message: 'Message', from: 'From', to: 'To', any: 'Any', filter: 'Filter', download: 'Download CSV', downloadXlsx: 'Download spreadsheet' },
  user: { name: 'User name', role: 'Role', email: 'E-mail', enabled: 'Enabled', token: 'USB key', new: 'Create user', password: 'Password (at least 12 characters)', admin: 'Administrator', operator: 'Operator', auditor: 'Auditor', yes: 'yes', no: 'no', edit: 'Edit', locked: 'Locked', unlock: 'Unlock', disable: 'Disable', enable: 'Enable', enrol: 'Enrol USB key', certificate: 'Certificate of the key (PEM, from `cairn token enroll`)', removeToken: 'Remove USB key', saved: 'Saved' },
  logType: { backup: 'Backup', restore: 'Restore', data: 'Data', storage: 'Storage', archive: 'Archive', login: 'Login', node: 'Client', task: 'Task', user: 'User', alert: 'Alert', system: 'System' },
  level: { info: 'Info', warning: 'Warning', error: 'Error' },
  jobType: { backup: 'Backup', restore: 'Restore', drill: 'DR drill', verify: 'Verify', clean: 'Clean', prune: 'Reclaim space', replicate: 'Replicate' },
  report: { title: 'Reports', clients: 'Client report', tasks: 'Task report', csv: 'Download CSV', xlsx: 'Download spreadsheet', client: 'Client', ip: 'IP', user: 'User name', os: 'OS', bytes: 'Backup data size', lastSeen: 'Last seen', task: 'Task name', type: 'Type', space: 'User space', runs: 'Runs', ok: 'Succeeded', failed: 'Failed', last: 'Last run', lastStatus: 'Last status' },
  drill: { title: 'DR drills', passed: 'Result', pass: 'passed', fail: 'failed', run: 'DR drill now' },
  me: { title: 'My account', email: 'E-mail', saved: 'Saved', sessions: 'Sessions', created: 'Logged in', lastSeen: 'Last active', ip: 'IP', agent: 'Browser', current: 'this session', end: 'End' },
  notify: { title: 'Notifications', mail: 'E-mail notification', enabled: 'Send e-mail', types: 'Log types', levels: 'Levels', mode: 'When', immediate: 'Immediately', digest: 'Daily digest', digestTime: 'Digest time', tz: 'Time zone', reports: 'Report e-mail', cycle: 'Every', day: 'day', week: 'week', month: 'month', year: 'year', saved: 'Saved', errPick: 'Choose at least one type and one level', webhooks: 'Webhooks', url: 'URL', events: 'Events', add: 'Add webhook', secret: 'Secret (shown once; receivers check X-Cairn-Signature with it)', enabled2: 'Enabled', remove: 'Delete', disable: 'Disable', enable: 'Enable', errUrl: 'Enter an http(s) URL and choose at least one event' },
  audit: { title: 'Audit trail', seq: 'No.', action: 'Action', target: 'Object', detail: 'Detail', verify: 'Verify the hash chain', ok: 'The audit trail is intact ({n} records)', bad: 'The audit trail was altered at record {at}' },
  event: { login: 'Login', node: 'Client', storage: 'Storage', task: 'Task', job: 'Job history', alert: 'Alert' },
  err: { generic: 'The node refused: {message}' }
}

type Messages = typeof en

const zh: Messages = {
  app: { title: 'Cairn 备份网络', lang: '语言', lock: '锁屏', logout: '退出', password: '修改密码', loading: '加载中…', refresh: '刷新', cancel: '取消', ok: '确定', next: '下一步', back: '上一步', save: '保存', actions: '操作', none: '暂无数据', page: '第 {page} 页，共 {pages} 页', prev: '上一页', nextPage: '下一页', total: '共 {n} 条' },
  nav: { home: '首页', tasks: '备份任务', monitor: '任务监控', history: '历史记录', restore: '恢复', data: '数据管理', nodes: '客户端', spaces: '用户空间', logs: '日志', users: '用户', reports: '报表', drills: '容灾演练', me: '我的账户', notify: '通知', audit: '审计日志' },
  login: { title: '登录 Cairn', user: '用户名', password: '密码', submit: '登录', tokenTitle: 'USB Key', tokenHint: '此账户需要 USB Key。请插入 USB Key 并输入 PIN 码，本地签名助手将请求 Key 签名。', tokenLabel: 'Token 标签', keyLabel: '密钥标签', pin: 'PIN 码', helper: '签名助手地址', required: '请输入用户名和密码' },
  lock: { title: '屏幕已锁定', hint: '请输入 {user} 的密码解锁', unlock: '解锁' },
  pw: { current: '当前密码', next: '新密码（至少 12 个字符）', done: '密码已修改', short: '新密码至少需要 12 个字符' },
  home: { uptime: '系统运行时间', storage: '存储', capacity: '总容量', used: '已用', free: '可用', volume: '每日备份数据量', running: '正在运行的任务', nodes: '在线节点', spaces: '用户空间', tasks: '备份任务', failed: '失败作业（7 天）' },
  task: { new: '新建备份任务', name: '任务名称', node: '客户端', space: '用户空间', agent: '代理类型', sources: '备份源', mode: '备份方式', created: '创建时间', start: '启动', stop: '停止', edit: '修改', delete: '删除', history: '历史', level: '备份类型', remark: '备注', full: '完全备份', incremental: '增量备份', manual: '手动', scheduled: '定时', deleteTitle: '删除任务 {name}', typeYes: '输入 YES 确认', passwordAgain: '您的密码（重新认证）', started: '作业 {name} 已启动', fs: '文件系统', disk: '磁盘镜像' },
  wiz: { step1: '客户端', step2: '备份源', step3: '选项', step4: '备份计划', step5: '名称', include: '备份路径', exclude: '排除规则（每行一条）', browse: '浏览', up: '上级目录', add: '添加', remove: '移除', dedup: '重复数据删除', compression: '压缩（zstd 级别，0 为不压缩）', retention: '保留策略', forever: '永久保留', policy: '按副本数 / 天数', copies: '副本数', days: '天数', exclusive: '备份被占用的文件', small: '海量小文件模式', addSchedule: '添加计划', kind: '周期', startDate: '开始日期', time: '时间', weekdays: '星期', monthdays: '每月日期（1–31，逗号分隔）', every: '间隔（分钟，≥ 10）', create: '创建任务', errName: '名称需 3 到 64 个字符，不能包含 / \\ 或控制字符', errNode: '请选择客户端和用户空间', errSources: '请至少添加一个绝对路径', errSchedule: '每个计划需要开始日期和时间；每周/每月需选择日期；间隔至少 10 分钟', errCompression: '压缩级别：0 或 -7 … 19', errCopies: '副本数和天数须为正整数', once: '一次', daily: '每天', weekly: '每周', monthly: '每月', interval: '间隔', tz: '时区' },
  job: { name: '作业', type: '类型', status: '状态', started: '开始时间', ended: '结束时间', duration: '耗时', bytes: '数据量', files: '文件数', speed: '速度', eta: '剩余时间', current: '当前文件', log: '日志', progress: '进度', live: '实时', user: '用户', trigger: '触发方式', running: '运行中', success: '成功', warning: '警告', failed: '失败', stopped: '已停止', noneRunning: '没有正在运行的作业', idle: '空闲' },
  restore: { space: '用户空间', task: '备份任务', snapshot: '时间点', files: '文件', target: '恢复目标', targetNode: '目标客户端', path: '重定向路径（留空：原位置）', conflict: '文件已存在时', overwrite: '覆盖', skip: '跳过已存在', 'keep-newer': '保留较新', submit: '开始恢复', all: '整个快照（未选择文件）', selected: '已选 {n} 项', started: '恢复作业 {name} 已启动' },
  data: { backup: '备份数据量', stored: '存储数据量', copies: '副本数', runs: '运行次数', from: '开始', to: '结束', query: '查询', clean: '清理', cleanSnapshot: '清理所选副本', cleanTask: '清理任务的全部副本', leftover: '清理失败作业的残留数据', snapshots: '副本', started: '清理作业 {name} 已启动' },
  node: { name: '名称', host: '主机名', os: '操作系统', version: '版本', ip: 'IP 地址', agents: '已授权代理类型', lastSeen: '最近在线', state: '状态', online: '在线', offline: '离线', local: '本节点', edit: '编辑', saved: '已保存' },
  space: { name: '名称', type: '类型', node: '客户端', capacity: '容量', used: '已用', usage: '使用率', cipher: '加密算法', dedup: '重删范围', backup: '备份空间', replication: '复制空间', owner: '所有者', new: '新建用户空间', capacityGiB: '容量（GiB）' },
  log: { time: '时间', type: '类型', level: '级别', user: '用户', source: '来源', message: '内容', from: '开始', to: '结束', any: '全部', filter: '筛选', download: '下载 CSV', downloadXlsx: '下载表格' },
  user: { name: '用户名', role: '角色', email: '邮箱', enabled: '启用', token: 'USB Key', new: '新建用户', password: '密码（至少 12 个字符）', admin: '管理员', operator: '操作员', auditor: '审计员', yes: '是', no: '否', edit: '编辑', locked: '已锁定', unlock: '解锁', disable: '停用', enable: '启用', enrol: '绑定 USB Key', certificate: 'USB Key 证书（PEM，由 `cairn token enroll` 导出）', removeToken: '解绑 USB Key', saved: '已保存' },
  logType: { backup: '备份', restore: '恢复', data: '数据', storage: '存储', archive: '归档', login: '登录', node: '客户端', task: '任务', user: '用户', alert: '告警', system: '系统' },
  level: { info: '信息', warning: '警告', error: '错误' },
  jobType: { backup: '备份', restore: '恢复', drill: '容灾演练', verify: '校验', clean: '清理', prune: '空间回收', replicate: '复制' },
  report: { title: '报表', clients: '客户端报表', tasks: '任务报表', csv: '下载 CSV', xlsx: '下载表格', client: '客户端', ip: 'IP 地址', user: '用户名', os: '操作系统', bytes: '备份数据量', lastSeen: '最近在线', task: '任务名称', type: '类型', space: '用户空间', runs: '运行次数', ok: '成功', failed: '失败', last: '最近运行', lastStatus: '最近状态' },
  drill: { title: '容灾演练', passed: '结果', pass: '通过', fail: '未通过', run: '立即演练' },
  me: { title: '我的账户', email: '邮箱', saved: '已保存', sessions: '登录会话', created: '登录时间', lastSeen: '最近活动', ip: 'IP 地址', agent: '浏览器', current: '当前会话', end: '结束' },
  notify: { title: '通知', mail: '邮件通知', enabled: '发送邮件', types: '日志类型', levels: '级别', mode: '发送方式', immediate: '立即发送', digest: '每日汇总', digestTime: '汇总时间', tz: '时区', reports: '报表邮件', cycle: '周期', day: '每天', week: '每周', month: '每月', year: '每年', saved: '已保存', errPick: '请至少选择一种类型和一个级别', webhooks: 'Webhook', url: 'URL', events: '事件', add: '添加 Webhook', secret: '密钥（仅显示一次；接收方用它校验 X-Cairn-Signature）', enabled2: '启用', remove: '删除', disable: '停用', enable: '启用', errUrl: '请输入 http(s) 地址并至少选择一个事件' },
  audit: { title: '审计日志', seq: '序号', action: '操作', target: '对象', detail: '详情', verify: '校验哈希链', ok: '审计日志完整（{n} 条记录）', bad: '审计日志在第 {at} 条记录处被篡改' },
  event: { login: '登录', node: '客户端', storage: '存储', task: '任务', job: '作业历史', alert: '告警' },
  err: { generic: '节点拒绝了请求：{message}' }
}

const saved = typeof localStorage !== 'undefined' ? localStorage.getItem('cairn.lang') : null

export const i18n = createI18n({
  legacy: false,
  locale: saved === 'en' ? 'en' : 'zh-CN',
  fallbackLocale: 'en',
  messages: { 'zh-CN': zh, en }
})

export function setLanguage (lang: 'zh-CN' | 'en'): void {
  i18n.global.locale.value = lang
  localStorage.setItem('cairn.lang', lang)
  document.documentElement.lang = lang
}
