import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '@/api/client';

export type Approval = Schemas['ApprovalRead'];

/** Requests, newest first: every request for a reviewer, one's own for anyone else (the API decides). */
export function useApprovals(query: { status?: Approval['status']; maker?: string }) {
  return useQuery({
    queryKey: ['approvals', query],
    queryFn: () => unwrap(api.GET('/api/v1/approvals', { params: { query: { ...query, limit: 200 } } })),
    refetchInterval: 15_000,
  });
}

/** Approve or reject with a reason, or withdraw one's own request. */
export function useDecide(id: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ how, reason }: { how: 'approve' | 'reject' | 'withdraw'; reason?: string }) =>
      how === 'withdraw'
        ? unwrap(api.POST('/api/v1/approvals/{approval_id}/withdraw', { params: { path: { approval_id: id } } }))
        : unwrap(api.POST(`/api/v1/approvals/{approval_id}/${how}`, { params: { path: { approval_id: id } }, body: { reason: reason ?? '' } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['approvals'] }).then(() => client.invalidateQueries({ queryKey: ['journeys'] })),
  });
}
