import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '@/api/client';

export type RuleSummary = Schemas['MotRuleRead'];
export type Rule = Schemas['MotRule'];

/** Every rule with its kind, times, 30-day firings and the journeys it feeds. */
export function useRules() {
  return useQuery({ queryKey: ['moments', 'rules'], queryFn: () => unwrap(api.GET('/api/v1/moments/rules')) });
}

/** One rule's definition. */
export function useRule(name: string | null) {
  return useQuery({
    queryKey: ['moments', 'rule', name],
    queryFn: () => unwrap(api.GET('/api/v1/moments/rules/{name}', { params: { path: { name: name ?? '' } } })),
    enabled: name !== null,
  });
}

/** Per rule over the last 30 days: fired, served, served within the SLA. */
export function useRuleStats() {
  return useQuery({ queryKey: ['moments', 'stats'], queryFn: () => unwrap(api.GET('/api/v1/moments/stats')) });
}

/** Firings newest first (customer numbers masked), of one rule or all. */
export function useFirings(rule: string | undefined) {
  return useQuery({
    queryKey: ['moments', 'firings', rule ?? ''],
    queryFn: () => unwrap(api.GET('/api/v1/moments/firings', { params: { query: { rule, limit: 500 } } })),
  });
}

/** Save a rule through the registry (a new version, or an approval request). */
export function useSaveRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (rule: Rule) => {
      const { name, ...body } = rule;
      return unwrap(api.PUT('/api/v1/moments/rules/{name}', { params: { path: { name } }, body: body as Schemas['MotRuleWrite'] }));
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ['moments'] }),
  });
}
