import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, toApiError, unwrap, type Schemas } from '@/api/client';
import { useDebounced } from '@/lib/useDebounced';

export type Segment = Schemas['SegmentRead'];
export type SegmentBody = Schemas['SegmentCreate'];
export type Preview = Schemas['touchpoint__segments__model__PreviewRead'];

/** Every saved segment's definition. */
export function useSegments() {
  return useQuery({ queryKey: ['segments', 'list'], queryFn: () => unwrap(api.GET('/api/v1/segments')) });
}

/** A saved segment with its size history, last computation and last error. */
export function useSegment(name: string | undefined) {
  return useQuery({
    queryKey: ['segments', name],
    queryFn: () => unwrap(api.GET('/api/v1/segments/{name}', { params: { path: { name: name ?? '' } } })),
    enabled: Boolean(name),
    retry: false,
  });
}

/** The live count of a rule (300 ms after the last edit), or nothing while the rule is unfinished. */
export function usePreview(rule: unknown, complete: boolean) {
  const settled = useDebounced(JSON.stringify(rule), 300);
  return useQuery({
    queryKey: ['segments', 'preview', settled],
    queryFn: () => unwrap(api.POST('/api/v1/segments/preview', { params: { query: { sample: 10 } }, body: JSON.parse(settled) })),
    enabled: complete && settled === JSON.stringify(rule),
    retry: false,
    staleTime: 10_000,
    meta: { silent: true }, // shown in the count card, where the user is looking
  });
}

/** Save a segment: the version, or the approval request when a live segment's change needs one. */
export function useSaveSegment(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: SegmentBody) => unwrap(api.PUT('/api/v1/segments/{name}', { params: { path: { name } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['segments'] }),
    meta: { silent: true },
  });
}

/** Recompute a saved segment now. */
export function useRefreshSegment(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/segments/{name}/refresh', { params: { path: { name } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['segments', name] }),
  });
}

/** Export a segment's members as CSV text, or learn that the export waits for approval (202). */
export async function exportSegment(name: string): Promise<{ csv: string } | { pending: Schemas['PendingApproval'] }> {
  const response = await fetch(`/api/v1/segments/${encodeURIComponent(name)}/export`, { credentials: 'same-origin' });
  if (response.status === 202) return { pending: (await response.json()) as Schemas['PendingApproval'] };
  if (!response.ok) throw toApiError(response.status, await response.json().catch(() => undefined));
  return { csv: await response.text() };
}

/** The newest uploaded lists, for a rule's 导入名单 condition. */
export function useLists() {
  return useQuery({ queryKey: ['lists'], queryFn: () => unwrap(api.GET('/api/v1/lists')) });
}
