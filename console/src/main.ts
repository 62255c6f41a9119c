import { createApp } from 'vue'
import { createRouter, createWebHashHistory } from 'vue-router'
import App from './App.vue'
import { i18n } from './i18n.ts'
import { session, restore } from './session.ts'
import { whenUnauthenticated } from './api.ts'
import LoginView from './views/LoginView.vue'
import HomeView from './views/HomeView.vue'
import TasksView from './views/TasksView.vue'
import TaskWizard from './views/TaskWizard.vue'
import TaskDetails from './views/TaskDetails.vue'
import MonitorView from './views/MonitorView.vue'
import HistoryView from './views/HistoryView.vue'
import RestoreView from './views/RestoreView.vue'
import DataView from './views/DataView.vue'
import NodesView from './views/NodesView.vue'
import NodeDetails from './views/NodeDetails.vue'
import SpacesView from './views/SpacesView.vue'
import LogsView from './views/LogsView.vue'
import UsersView from './views/UsersView.vue'
import ReportsView from './views/ReportsView.vue'
import DrillsView from './views/DrillsView.vue'
import AccountView from './views/AccountView.vue'
import NotifyView from './views/NotifyView.vue'
import AuditView from './views/AuditView.vue'
import MeshView from './views/MeshView.vue'
import PlanningView from './views/PlanningView.vue'
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
    { path: '/planning', component: PlanningView }
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
