import {
  ApartmentOutlined, AuditOutlined, BarChartOutlined, DashboardOutlined, FlagOutlined, MessageOutlined, NodeIndexOutlined, SolutionOutlined,
  TagsOutlined, TeamOutlined, TrophyOutlined,
} from '@ant-design/icons';
import { lazy, type ComponentType, type LazyExoticComponent, type ReactNode } from 'react';
import type { MessageKey } from '@/locales/zh-CN';

/** One page of the console: its path, menu entry and the permission it needs (the API enforces the same). */
export interface PageRoute {
  path: string;
  title: MessageKey;
  /** The permission the page needs ('' for a page every signed-in user may open). */
  permission: string;
  page: LazyExoticComponent<ComponentType>;
  /** Shown in the menu under `section` (hidden routes are reached by links). */
  menu?: boolean;
  /** Open to a user limited to branches or own customers: the page's data narrows to their scope. Other
   * pages show figures over every customer, which the API refuses to scoped users. */
  scoped?: boolean;
}

export interface Section {
  key: string;
  title: MessageKey;
  icon: ReactNode;
  routes: PageRoute[];
}

// One lazily loaded chunk per route: a user downloads only the pages they open.
const OverviewPage = lazy(() => import('@/features/overview/OverviewPage'));
const CustomerSearchPage = lazy(() => import('@/features/customers/CustomerSearchPage'));
const Customer360Page = lazy(() => import('@/features/customers/Customer360Page'));
const TagsPage = lazy(() => import('@/features/tags/TagsPage'));
const TagDetailPage = lazy(() => import('@/features/tags/TagDetailPage'));
const TagEditorPage = lazy(() => import('@/features/tags/TagEditorPage'));
const IndicatorsPage = lazy(() => import('@/features/tags/IndicatorsPage'));
const IndicatorEditorPage = lazy(() => import('@/features/tags/IndicatorEditorPage'));
const ComputeRunsPage = lazy(() => import('@/features/tags/ComputeRunsPage'));
const SegmentsPage = lazy(() => import('@/features/segments/SegmentsPage'));
const SegmentDetailPage = lazy(() => import('@/features/segments/SegmentDetailPage'));
const SegmentEditorPage = lazy(() => import('@/features/segments/SegmentEditorPage'));
const InsightPage = lazy(() => import('@/features/insight/InsightPage'));
const ComparePage = lazy(() => import('@/features/insight/ComparePage'));
const EventsPage = lazy(() => import('@/features/analytics/EventsPage'));
const FunnelsPage = lazy(() => import('@/features/analytics/FunnelsPage'));
const RetentionPage = lazy(() => import('@/features/analytics/RetentionPage'));
const PathsPage = lazy(() => import('@/features/analytics/PathsPage'));
const JourneysPage = lazy(() => import('@/features/journeys/JourneysPage'));
const JourneyEditorPage = lazy(() => import('@/features/journeys/JourneyEditorPage'));
const JourneyLivePage = lazy(() => import('@/features/journeys/JourneyLivePage'));
const JourneyReportPage = lazy(() => import('@/features/journeys/JourneyReportPage'));
const ApprovalsPage = lazy(() => import('@/features/approvals/ApprovalsPage'));
const TemplatesPage = lazy(() => import('@/features/content/TemplatesPage'));
const TemplateEditorPage = lazy(() => import('@/features/content/TemplateEditorPage'));
const ChannelsPage = lazy(() => import('@/features/content/ChannelsPage'));
const PoliciesPage = lazy(() => import('@/features/content/PoliciesPage'));
const MotRulesPage = lazy(() => import('@/features/moments/MotRulesPage'));
const FiringsPage = lazy(() => import('@/features/moments/FiringsPage'));
const MyTasksPage = lazy(() => import('@/features/workbench/MyTasksPage'));
const TeamTasksPage = lazy(() => import('@/features/workbench/TeamTasksPage'));
const CampaignsPage = lazy(() => import('@/features/kpi/CampaignsPage'));
const ServiceKpiPage = lazy(() => import('@/features/kpi/ServicePage'));
const BranchesPage = lazy(() => import('@/features/kpi/BranchesPage'));

/** The menu tree (CONSOLE.md §1), in menu order; the first route a user may open is their landing page. */
export const SECTIONS: Section[] = [
  {
    key: 'overview',
    title: 'menu.overview',
    icon: <DashboardOutlined />,
    routes: [{ path: '/overview', title: 'menu.overview', permission: 'status:read', page: OverviewPage, menu: true, scoped: true }],
  },
  {
    key: 'customers',
    title: 'menu.customers',
    icon: <TeamOutlined />,
    routes: [
      {
        path: '/customers',
        title: 'menu.customers.search',
        permission: 'customer:read',
        page: CustomerSearchPage,
        menu: true,
        scoped: true,
      },
      {
        path: '/customers/:customerNo',
        title: 'c360.title',
        permission: 'customer:read',
        page: Customer360Page,
        scoped: true,
      },
    ],
  },
  {
    key: 'catalog',
    title: 'menu.catalog',
    icon: <TagsOutlined />,
    routes: [
      { path: '/catalog/tags', title: 'menu.catalog.tags', permission: 'tag:read', page: TagsPage, menu: true },
      { path: '/catalog/tags/new', title: 'catalog.tags.new', permission: 'tag:write', page: TagEditorPage },
      { path: '/catalog/tags/:name', title: 'menu.catalog.tags', permission: 'tag:read', page: TagDetailPage },
      { path: '/catalog/tags/:name/edit', title: 'tag.edit', permission: 'tag:write', page: TagEditorPage },
      {
        path: '/catalog/indicators',
        title: 'menu.catalog.indicators',
        permission: 'indicator:read',
        page: IndicatorsPage,
        menu: true,
      },
      { path: '/catalog/indicators/new', title: 'ind.new', permission: 'indicator:write', page: IndicatorEditorPage },
      {
        path: '/catalog/indicators/:name/edit',
        title: 'tag.edit',
        permission: 'indicator:write',
        page: IndicatorEditorPage,
      },
      { path: '/catalog/runs', title: 'menu.catalog.runs', permission: 'indicator:read', page: ComputeRunsPage, menu: true },
    ],
  },
  {
    key: 'segments',
    title: 'menu.segments',
    icon: <ApartmentOutlined />,
    routes: [
      { path: '/segments', title: 'menu.segments.list', permission: 'segment:read', page: SegmentsPage, menu: true },
      {
        path: '/segments/new',
        title: 'menu.segments.new',
        permission: 'segment:write',
        page: SegmentEditorPage,
        menu: true,
        scoped: true,
      },
      {
        path: '/segments/compare',
        title: 'menu.segments.compare',
        permission: 'analytics:read',
        page: ComparePage,
        menu: true,
        scoped: true,
      },
      { path: '/segments/:name', title: 'menu.segments.list', permission: 'segment:read', page: SegmentDetailPage },
      { path: '/segments/:name/insight', title: 'seg.insight', permission: 'analytics:read', page: InsightPage, scoped: true },
      { path: '/segments/:name/edit', title: 'seg.edit', permission: 'segment:write', page: SegmentEditorPage },
    ],
  },
  {
    key: 'analytics',
    title: 'menu.analytics',
    icon: <BarChartOutlined />,
    routes: (
      [
        ['/analytics/events', 'menu.analytics.events', EventsPage],
        ['/analytics/funnels', 'menu.analytics.funnels', FunnelsPage],
        ['/analytics/retention', 'menu.analytics.retention', RetentionPage],
        ['/analytics/paths', 'menu.analytics.paths', PathsPage],
      ] as const
    ).map(([path, title, page]) => ({ path, title, page, permission: 'analytics:read', menu: true, scoped: true })),
  },
  {
    key: 'journeys',
    title: 'menu.journeys',
    icon: <NodeIndexOutlined />,
    routes: [
      { path: '/journeys', title: 'menu.journeys.list', permission: 'journey:read', page: JourneysPage, menu: true, scoped: true },
      { path: '/journeys/new', title: 'journey.new', permission: 'journey:write', page: JourneyEditorPage },
      { path: '/journeys/:name/edit', title: 'journey.edit', permission: 'journey:read', page: JourneyEditorPage },
      { path: '/journeys/:name/live', title: 'journey.live', permission: 'journey:read', page: JourneyLivePage, scoped: true },
      { path: '/journeys/:name/report', title: 'journey.report', permission: 'journey:read', page: JourneyReportPage, scoped: true },
    ],
  },
  {
    key: 'content',
    title: 'menu.content',
    icon: <MessageOutlined />,
    // As the API: templates need template:read (new ones template:write), the policy and provider health
    // channel:read, the do-not-disturb and consent lists customer:read; each narrows to a scoped caller.
    routes: [
      { path: '/content/templates', title: 'menu.content.templates', permission: 'template:read', page: TemplatesPage, menu: true, scoped: true },
      { path: '/content/templates/new', title: 'tpl.new', permission: 'template:write', page: TemplateEditorPage },
      { path: '/content/templates/:name', title: 'menu.content.templates', permission: 'template:read', page: TemplateEditorPage, scoped: true },
      { path: '/content/channels', title: 'menu.content.channels', permission: 'channel:read', page: ChannelsPage, menu: true, scoped: true },
      { path: '/content/policies', title: 'menu.content.policies', permission: 'customer:read', page: PoliciesPage, menu: true, scoped: true },
    ],
  },
  {
    key: 'mot',
    title: 'menu.mot',
    icon: <FlagOutlined />,
    routes: [
      { path: '/mot/rules', title: 'menu.mot.rules', permission: 'moment:read', page: MotRulesPage, menu: true, scoped: true },
      { path: '/mot/firings', title: 'menu.mot.firings', permission: 'moment:read', page: FiringsPage, menu: true, scoped: true },
    ],
  },
  {
    key: 'workbench',
    title: 'menu.workbench',
    icon: <SolutionOutlined />,
    routes: [
      { path: '/workbench/tasks', title: 'menu.workbench.tasks', permission: 'task:work', page: MyTasksPage, menu: true, scoped: true },
      { path: '/workbench/team', title: 'menu.workbench.team', permission: 'task:assign', page: TeamTasksPage, menu: true, scoped: true },
    ],
  },
  {
    key: 'approvals',
    title: 'menu.approvals',
    icon: <AuditOutlined />,
    // Every signed-in user sees their own requests; a reviewer also the queue (the API decides which).
    routes: [{ path: '/approvals', title: 'menu.approvals', permission: '', page: ApprovalsPage, menu: true }],
  },
  {
    key: 'kpi',
    title: 'menu.kpi',
    icon: <TrophyOutlined />,
    // The permissions the API enforces: campaign KPIs are the journeys' reports (journey:read), the service KPIs
    // kpi:read; each narrows to a scoped caller's customers, so a branch manager sees their branch.
    routes: [
      { path: '/kpi/campaigns', title: 'menu.kpi.campaigns', permission: 'journey:read', page: CampaignsPage, menu: true, scoped: true },
      { path: '/kpi/service', title: 'menu.kpi.service', permission: 'kpi:read', page: ServiceKpiPage, menu: true, scoped: true },
      { path: '/kpi/branches', title: 'menu.kpi.branches', permission: 'kpi:read', page: BranchesPage, menu: true, scoped: true },
    ],
  },
];

/** Every route, flat. */
export const ROUTES: PageRoute[] = SECTIONS.flatMap((s) => s.routes);

/** Whether a caller may open a route: the permission, and for a scoped caller a page that narrows to them. */
export function opens(route: PageRoute, caller: { permissions: string[]; scoped: boolean }): boolean {
  const permitted = route.permission === '' || caller.permissions.includes(route.permission);
  return permitted && (!caller.scoped || route.scoped === true);
}

/** Where the roles that work a branch's tasks start (CONSOLE.md §1: a branch manager on the team's tasks, an
 * advisor on their own), before the first page of the menu. */
const LANDINGS: [string, string][] = [
  ['task:assign', '/workbench/team'],
  ['task:work', '/workbench/tasks'],
];

/** The page a caller lands on: their role's own page, else the first in the menu they may open (null: none). */
export function landingPath(caller: { permissions: string[]; scoped: boolean }): string | null {
  const own = caller.scoped ? LANDINGS.find(([permission]) => caller.permissions.includes(permission)) : undefined;
  return own?.[1] ?? ROUTES.find((r) => r.menu && opens(r, caller))?.path ?? null;
}
