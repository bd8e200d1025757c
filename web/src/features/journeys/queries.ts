import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { App } from 'antd';
import { ApiError } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { api, unwrap, type Schemas } from '@/api/client';
import { useDebounced } from '@/lib/useDebounced';
import type { Json } from './graph';

export type JourneySummary = Schemas['JourneyRead'];
export type JourneyStats = Schemas['JourneyStatsRead'];
export type NodeStats = Schemas['NodeStats'];
export type JourneyFault = Schemas['JourneyFault'];
export type RunRow = Schemas['RunRead'];
export type RunPath = Schemas['CustomerRunRead'];
export type Lifecycle = 'pause' | 'resume' | 'stop' | 'archive';

/** The channels a message node may use (the engine's list). */
export const CHANNELS: Schemas['TemplateSummaryRead']['channel'][] = ['sms', 'push', 'wechat', 'wecom', 'inbox', 'email', 'webhook', 'log'];

/** Every journey with its status and versions. */
export function useJourneys() {
  return useQuery({ queryKey: ['journeys', 'list'], queryFn: () => unwrap(api.GET('/api/v1/journeys')) });
}

/** A journey's definition: the newest version, or `version`. */
export function useJourney(name: string | undefined, version?: number) {
  return useQuery({
    queryKey: ['journeys', name, 'definition', version ?? 'newest'],
    queryFn: () =>
      unwrap(api.GET('/api/v1/journeys/{name}', { params: { path: { name: name ?? '' }, query: version ? { version } : {} } })),
    enabled: Boolean(name),
    retry: false,
  });
}

/** Every fault of the canvas's definition, checked 400 ms after the last edit (nothing is saved). */
export function useJourneyCheck(definition: Json) {
  const text = JSON.stringify(definition);
  const settled = useDebounced(text, 400);
  return useQuery({
    queryKey: ['journeys', 'check', settled],
    queryFn: () => unwrap(api.POST('/api/v1/journeys/check', { body: JSON.parse(settled) as Record<string, never> })),
    enabled: settled === text,
    placeholderData: (previous) => previous,
    staleTime: 60_000,
    meta: { silent: true }, // shown on the nodes and in the issues list
  });
}

/** Save the canvas's definition as the next version (a draft until published). */
export function useSaveJourney() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, body }: { name: string; body: Json }) =>
      unwrap(api.PUT('/api/v1/journeys/{name}', { params: { path: { name } }, body: body as Schemas['JourneyWrite'] })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['journeys'] }),
  });
}

/** Publish the newest version (or submit it for approval where publication needs one). */
export function usePublishJourney(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['PublishRequest']) =>
      unwrap(api.POST('/api/v1/journeys/{name}/publish', { params: { path: { name } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['journeys'] }),
  });
}

/** Pause, resume, stop or archive a journey. */
export function useLifecycle(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (action: Lifecycle) => unwrap(api.POST(`/api/v1/journeys/{name}/${action}`, { params: { path: { name } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['journeys'] }),
  });
}

/** Carry out a lifecycle action and say how it went in the user's language. */
export function useLifecycleAction(name: string): (action: Lifecycle) => Promise<void> {
  const { t } = useI18n();
  const { message } = App.useApp();
  const lifecycle = useLifecycle(name);
  return async (action) => {
    try {
      await lifecycle.mutateAsync(action);
      message.success(t(`journey.lifecycle.${action}.done`));
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
}

/** Per-node statistics, refreshed every `every` ms while the page is open (live view). */
export function useJourneyStats(name: string | undefined, every: number | false = 5000) {
  return useQuery({
    queryKey: ['journeys', name, 'stats'],
    queryFn: () => unwrap(api.GET('/api/v1/journeys/{name}/stats', { params: { path: { name: name ?? '' } } })),
    enabled: Boolean(name),
    refetchInterval: every,
  });
}

/** The runs at a node (customer numbers masked), first page. */
export function useNodeRuns(name: string, node: string | null) {
  return useQuery({
    queryKey: ['journeys', name, 'runs', node],
    queryFn: () =>
      unwrap(api.GET('/api/v1/journeys/{name}/runs', { params: { path: { name }, query: { node: node ?? undefined, limit: 200 } } })),
    enabled: node !== null,
  });
}

/** One run's path through the journey. */
export function useRunPath(run: string | null) {
  return useQuery({
    queryKey: ['journey-runs', run],
    queryFn: () => unwrap(api.GET('/api/v1/journey-runs/{run_id}', { params: { path: { run_id: run ?? '' } } })),
    enabled: run !== null,
  });
}

/** Start a simulation (or a test walk of `customers`) of a saved version as a background job. */
export function useStartSimulation(name: string) {
  return useMutation({
    mutationFn: (body: Schemas['SimulateRequest']) =>
      unwrap(api.POST('/api/v1/journeys/{name}/simulate', { params: { path: { name } }, body })),
  });
}

/** Templates, for the message node's picker. */
export function useTemplates() {
  return useQuery({ queryKey: ['templates', 'list'], queryFn: () => unwrap(api.GET('/api/v1/templates')) });
}

/** MOT rules, for the MOT entry's picker. */
export function useMotRules() {
  return useQuery({ queryKey: ['moments', 'rules'], queryFn: () => unwrap(api.GET('/api/v1/moments/rules')) });
}
