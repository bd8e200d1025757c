import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/api/client';

type Period = { from?: string; to?: string };
export type GroupBy = 'advisor' | 'branch' | 'rule';

/** A journey's report over runs entered in the period (every run without one). */
export function useJourneyReport(name: string, period: Period) {
  return useQuery({
    queryKey: ['journeys', name, 'report', period],
    queryFn: () => unwrap(api.GET('/api/v1/journeys/{name}/report', { params: { path: { name }, query: period } })),
    placeholderData: keepPreviousData,
  });
}

/** Campaign KPIs per journey over the period (the API's last 30 days without one). */
export function useCampaignKpis(period: Period) {
  return useQuery({
    queryKey: ['kpis', 'campaigns', period],
    queryFn: () => unwrap(api.GET('/api/v1/kpis/campaigns', { params: { query: period } })),
    placeholderData: keepPreviousData,
  });
}

/** Service-process KPIs per advisor, branch or MOT rule over the period. */
export function useServiceKpis(period: Period, groupBy: GroupBy, withinDays: number) {
  return useQuery({
    queryKey: ['kpis', 'service', period, groupBy, withinDays],
    queryFn: () =>
      unwrap(api.GET('/api/v1/kpis/service', { params: { query: { ...period, group_by: groupBy, within_days: withinDays } } })),
    placeholderData: keepPreviousData,
  });
}
