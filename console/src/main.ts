import { createApp } from 'vue'
import { createRouter, createWebHashHistory } from 'vue-router'
import App from './App.vue'
import { i18n } from './i18n.ts'
import { session, restore } from './session.ts'
import { whenUnauthenticated } from './api.ts'
import LoginView from './screens/login/LoginView.vue'
import HomeView from './screens/home/HomeView.vue'
import TasksView from './screens/tasks/TasksView.vue'
import TaskWizard from './screens/tasks/TaskWizard.vue'
import TaskDetails from './screens/tasks/TaskDetails.vue'
import MonitorView from './screens/monitor/MonitorView.vue'
import HistoryView from './screens/history/HistoryView.vue'
import RestoreView from './screens/restore/RestoreView.vue'
import DataView from './screens/data/DataView.vue'
import NodesView from './screens/nodes/NodesView.vue'
import NodeDetails from './screens/nodes/NodeDetails.vue'
import SpacesView from './screens/spaces/SpacesView.vue'
import LogsView from './screens/logs/LogsView.vue'
import UsersView from './screens/users/UsersView.vue'
import ReportsView from './screens/reports/ReportsView.vue'
import DrillsView from './screens/drills/DrillsView.vue'
import AccountView from './screens/account/AccountView.vue'
import NotifyView from './screens/notify/NotifyView.vue'
import AuditView from './screens/audit/AuditView.vue'
import MeshView from './screens/mesh/MeshView.vue'
import PlanningView from './screens/planning/PlanningView.vue'
import ArchiveView from './screens/archive/ArchiveView.vue'
import './style.css'

// Hash history: the daemon serves one index.html and every other path stays the API's.
const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/login', component: LoginView, meta: { public: true } },
    { path: '/', component: HomeView },
    { path: '/tasks', component: TasksView },
    { path: '/tasks/new', component: TaskWizard },
    { path: '/tasks/:id/edit', component: TaskWizard },
    { path: '/tasks/:id', component: TaskDetails },
    { path: '/monitor', component: MonitorView },
    { path: '/monitor/:id', component: MonitorView },
    { path: '/history', component: HistoryView },
    { path: '/restore', component: RestoreView },
    { path: '/data', component: DataView },
    { path: '/nodes', component: NodesView },
    { path: '/nodes/:id', component: NodeDetails },
    { path: '/spaces', component: SpacesView },
    { path: '/logs', component: LogsView },
    { path: '/users', component: UsersView },
    { path: '/reports', component: ReportsView },
    { path: '/drills', component: DrillsView },
    { path: '/me', component: AccountView },
    { path: '/notify', component: NotifyView },
    { path: '/audit', component: AuditView },
    { path: '/mesh', component: MeshView },
    { path: '/planning', component: PlanningView },
    { path: '/archive', component: ArchiveView }
  ]
})

router.beforeEach(async (to) => {
  if (!session.checked) await restore()
  if (to.meta.public !== true && session.user === undefined) return { path: '/login', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
  if (to.path === '/login' && session.user !== undefined) return '/'
})

whenUnauthenticated(() => {
  session.user = undefined
  void router.push('/login')
})

createApp(App).use(i18n).use(router).mount('#app')
