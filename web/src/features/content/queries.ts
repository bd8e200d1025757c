import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '@/api/client';

export type TemplateSummary = Schemas['TemplateSummaryRead'];
export type Template = Schemas['TemplateDef'];
export type TemplateBody = Schemas['TemplateCreate'];
export type Preview = Schemas['touchpoint__channels__model__PreviewRead'];
export type Policy = Schemas['ChannelPolicy'];
export type Health = Schemas['ChannelHealthRead'];
export type DndEntry = Schemas['DndEntryRead'];
export type ConsentState = Schemas['ConsentStateRead'];

/** Every template with its status and versions. */
export function useTemplates() {
  return useQuery({ queryKey: ['content', 'templates'], queryFn: () => unwrap(api.GET('/api/v1/templates')) });
}

/** A template's newest version, or a given one (null: nothing to load, a new template). */
export function useTemplate(name: string | null, version?: number) {
  return useQuery({
    queryKey: ['content', 'template', name, version ?? 'latest'],
    queryFn: () =>
      unwrap(api.GET('/api/v1/templates/{name}', { params: { path: { name: name ?? '' }, query: { version } } })),
    enabled: name !== null,
  });
}

/** A template's saved versions, newest first, with who saved each and which one sends. */
export function useVersions(name: string | null) {
  return useQuery({
    queryKey: ['content', 'versions', name],
    queryFn: () => unwrap(api.GET('/api/v1/templates/{name}/versions', { params: { path: { name: name ?? '' } } })),
    enabled: name !== null,
  });
}

/** The names a template may use, by root (the variable picker). */
export function useVariables() {
  return useQuery({
    queryKey: ['content', 'variables'],
    queryFn: () => unwrap(api.GET('/api/v1/templates/variables')),
    staleTime: 5 * 60_000,
  });
}

/** The content check of the editor's unsaved fields, asked once typing pauses (`draft` is already
 * debounced); the previous answer stays on screen while the next is on its way. */
export function useDraftCheck(name: string, draft: TemplateBody | null) {
  return useQuery({
    queryKey: ['content', 'draft-check', name, draft],
    queryFn: () =>
      unwrap(api.POST('/api/v1/templates/{name}/check', { params: { path: { name } }, body: draft ?? undefined })),
    enabled: draft !== null,
    placeholderData: (previous) => previous,
  });
}

/** Save the editor's template as the next version (faults come back with it). */
export function useSaveTemplate() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, body }: { name: string; body: TemplateBody }) =>
      unwrap(api.PUT('/api/v1/templates/{name}', { params: { path: { name } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['content'] }),
  });
}

/** Activate a version, or retire the template. */
export function useTemplateStatus() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, action, version }: { name: string; action: 'activate' | 'retire'; version?: number }) =>
      action === 'activate'
        ? unwrap(api.POST('/api/v1/templates/{name}/activate', { params: { path: { name }, query: { version } } }))
        : unwrap(api.POST('/api/v1/templates/{name}/retire', { params: { path: { name } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['content'] }),
  });
}

/** Render a saved version, or the editor's draft, for one customer, with what the policies would do now. */
export function usePreview() {
  return useMutation({
    mutationFn: ({ name, body }: { name: string; body: Schemas['PreviewCreate'] }) =>
      unwrap(api.POST('/api/v1/templates/{name}/preview', { params: { path: { name } }, body })),
  });
}

/** The channel policy in effect (quiet hours, caps, banned words, disclosures, lengths). */
export function usePolicy() {
  return useQuery({ queryKey: ['content', 'policy'], queryFn: () => unwrap(api.GET('/api/v1/channels/policy')) });
}

/** Save the whole policy as its next version (or an approval request). */
export function useSavePolicy() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (policy: Policy) => unwrap(api.PUT('/api/v1/channels/policy', { body: policy })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['content', 'policy'] }),
  });
}

/** Each channel's provider and how its sends went over the last `days` days. */
export function useHealth(days: number) {
  return useQuery({
    queryKey: ['content', 'health', days],
    queryFn: () => unwrap(api.GET('/api/v1/channels/health', { params: { query: { days } } })),
  });
}

/** The do-not-disturb list (of the caller's customers). */
export function useDnd() {
  return useQuery({ queryKey: ['content', 'dnd'], queryFn: () => unwrap(api.GET('/api/v1/do-not-disturb')) });
}

/** Put a customer on the list, or take one off. */
export function useDndChange() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (change: { customer_no: string; remove?: boolean; reason?: string; days?: number | null }): Promise<unknown> =>
      change.remove
        ? unwrap(api.DELETE('/api/v1/do-not-disturb/{customer_no}', { params: { path: { customer_no: change.customer_no } } }))
        : unwrap(
            api.PUT('/api/v1/do-not-disturb/{customer_no}', {
              params: { path: { customer_no: change.customer_no } },
              body: { reason: change.reason ?? '', days: change.days ?? null },
            }),
          ),
    onSuccess: () => client.invalidateQueries({ queryKey: ['content', 'dnd'] }),
  });
}

export type ConsentFilter = { channel?: Schemas['ConsentStateRead']['channel']; granted?: boolean; page: number; pageSize: number };

/** A page of the consent list: each customer's newest record per channel. */
export function useConsents(filter: ConsentFilter) {
  return useQuery({
    queryKey: ['content', 'consents', filter],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/consents', {
          params: {
            query: {
              channel: filter.channel as never,
              granted: filter.granted,
              limit: filter.pageSize,
              offset: (filter.page - 1) * filter.pageSize,
            },
          },
        }),
      ),
    placeholderData: (previous) => previous,
  });
}
