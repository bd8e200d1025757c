import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '@/api/client';

export type Task = Schemas['TaskRead'];

/** Open tasks the caller may see (an advisor's own, a branch manager's branch), soonest due first. */
export function useOpenTasks(advisor?: string) {
  return useQuery({
    queryKey: ['tasks', 'open', advisor ?? ''],
    queryFn: () => unwrap(api.GET('/api/v1/tasks', { params: { query: { status: 'open', limit: 500, advisor_id: advisor } } })),
    refetchInterval: 30_000,
  });
}

/** Claim, complete or reassign a task. */
export function useTaskAction(id: string) {
  const client = useQueryClient();
  const done = () => client.invalidateQueries({ queryKey: ['tasks'] });
  return {
    claim: useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/tasks/{task_id}/claim', { params: { path: { task_id: id } } })), onSuccess: done }),
    complete: useMutation({
      mutationFn: (body: Schemas['TaskComplete']) => unwrap(api.POST('/api/v1/tasks/{task_id}/complete', { params: { path: { task_id: id } }, body })),
      onSuccess: done,
    }),
    assign: useMutation({
      mutationFn: (advisor_id: string) => unwrap(api.POST('/api/v1/tasks/{task_id}/assign', { params: { path: { task_id: id } }, body: { advisor_id } })),
      onSuccess: done,
    }),
  };
}
