import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '@/api/client';

export type TagDef = Schemas['TagDef'];
export type TagBody = Schemas['TagCreate'];
export type IndicatorBody = Schemas['IndicatorCreate'];
export type DryRun = Schemas['DryRunRead'];

/** The tag catalogue as a category tree. */
export function useTagTree() {
  return useQuery({ queryKey: ['tags', 'tree'], queryFn: () => unwrap(api.GET('/api/v1/tags/tree')) });
}

/** Every tag definition (`enabled: false` for a caller without `tag:read`). */
export function useTags(enabled = true) {
  return useQuery({ queryKey: ['tags', 'list'], queryFn: () => unwrap(api.GET('/api/v1/tags')), enabled });
}

/** One tag: definition, coverage, distribution, history, upstream lineage and model metrics. */
export function useTag(name: string) {
  return useQuery({
    queryKey: ['tags', name],
    queryFn: () => unwrap(api.GET('/api/v1/tags/{name}', { params: { path: { name } } })),
    retry: false,
  });
}

/** The segments and journeys that read a tag. */
export function useTagUsedBy(name: string) {
  return useQuery({
    queryKey: ['tags', name, 'used-by'],
    queryFn: () => unwrap(api.GET('/api/v1/tags/{name}/used-by', { params: { path: { name } } })),
  });
}

/** Compute a tag definition on a sample of customers without saving it. */
export function useTagDryRun(name: string) {
  return useMutation({
    mutationFn: (body: TagBody) =>
      unwrap(api.POST('/api/v1/tags/{name}/dry-run', { params: { path: { name }, query: { sample: 2000 } }, body })),
    // The editor shows the fault on its fields; the error centre is not needed twice.
    meta: { silent: true },
  });
}

/** Save a tag (a new version). */
export function useSaveTag(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: TagBody) => unwrap(api.PUT('/api/v1/tags/{name}', { params: { path: { name } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['tags'] }),
    meta: { silent: true },
  });
}

/** Customers carrying one value of a tag. */
export function useTagMembers(name: string, value: string | null) {
  return useQuery({
    queryKey: ['tags', name, 'members', value],
    queryFn: () =>
      unwrap(api.GET('/api/v1/tags/{name}/members', { params: { path: { name }, query: { value: value ?? '', limit: 50 } } })),
    enabled: value !== null,
  });
}

/** Every indicator definition (`enabled: false` for a caller without `indicator:read`). */
export function useIndicators(enabled = true) {
  return useQuery({
    queryKey: ['indicators', 'list'],
    queryFn: () => unwrap(api.GET('/api/v1/indicators')),
    enabled,
  });
}

/** One indicator and what reads it. */
export function useIndicator(name: string | null) {
  return useQuery({
    queryKey: ['indicators', name],
    queryFn: () => unwrap(api.GET('/api/v1/indicators/{name}', { params: { path: { name: name ?? '' } } })),
    enabled: name !== null,
    retry: false,
  });
}

/** The segments and journeys that read an indicator. */
export function useIndicatorUsedBy(name: string | null) {
  return useQuery({
    queryKey: ['indicators', name, 'used-by'],
    queryFn: () => unwrap(api.GET('/api/v1/indicators/{name}/used-by', { params: { path: { name: name ?? '' } } })),
    enabled: name !== null,
  });
}

/** Compute an indicator definition on a sample without saving it. */
export function useIndicatorDryRun(name: string) {
  return useMutation({
    mutationFn: (body: IndicatorBody) =>
      unwrap(
        api.POST('/api/v1/indicators/{name}/dry-run', { params: { path: { name }, query: { sample: 2000 } }, body }),
      ),
    meta: { silent: true },
  });
}

/** Save an indicator (a new version). */
export function useSaveIndicator(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: IndicatorBody) =>
      unwrap(api.PUT('/api/v1/indicators/{name}', { params: { path: { name } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['indicators'] }),
    meta: { silent: true },
  });
}

/** Customer attributes and known events, for pickers. */
export function useFields() {
  return useQuery({ queryKey: ['fields'], queryFn: () => unwrap(api.GET('/api/v1/fields')), staleTime: 300_000 });
}

/** Recent computation runs. */
export function useComputeRuns() {
  return useQuery({
    queryKey: ['compute', 'runs'],
    queryFn: () => unwrap(api.GET('/api/v1/compute/runs', { params: { query: { limit: 30 } } })),
    refetchInterval: 10_000,
  });
}

/** Compute today's indicators and tags now. */
export function useComputeNow() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/compute', { params: { query: { force: true } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['compute'] }),
  });
}
