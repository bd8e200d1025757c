import { useMutation, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/api/client';

/** The TGI profile of a segment against everyone or another segment, with indicator quartiles. */
export function useInsight(name: string, against: string | null, indicators: string[]) {
  return useQuery({
    queryKey: ['insight', name, against, indicators],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/segments/{name}/insight', {
          params: { path: { name }, query: { against: against ?? undefined, indicators: indicators.join(',') } },
        }),
      ),
  });
}

/** The regions of 2–4 segments' overlap. */
export function useOverlap(names: string[]) {
  return useQuery({
    queryKey: ['overlap', names],
    queryFn: () => unwrap(api.GET('/api/v1/insight/overlap', { params: { query: { names: names.join(',') } } })),
    enabled: names.length >= 2 && names.length <= 4,
  });
}

/** Start a lookalike job from a seed segment. */
export function useStartLookalike(seed: string) {
  return useMutation({
    mutationFn: (top: number) =>
      unwrap(api.POST('/api/v1/segments/{seed}/lookalike', { params: { path: { seed } }, body: { top } })),
  });
}

/** A background job, polled every second until it is done or failed. */
export function useJob(id: string | null) {
  return useQuery({
    queryKey: ['jobs', id],
    queryFn: () => unwrap(api.GET('/api/v1/jobs/{job_id}', { params: { path: { job_id: id ?? '' } } })),
    enabled: id !== null,
    retry: false, // a job this process no longer holds (a restart) answers 404: say so, do not poll on
    refetchInterval: (query) => {
      const stage = query.state.data?.stage;
      return query.state.status === 'error' || stage === 'done' || stage === 'failed' || stage === 'cancelled' ? false : 1000;
    },
  });
}
