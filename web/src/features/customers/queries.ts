import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/api/client';
import { useDebounced } from '@/lib/useDebounced';

/** Customers matching a number, phone tail or name (within the caller's scope), debounced while typing. */
export function useCustomerSearch(text: string, limit = 20) {
  const q = useDebounced(text, 250);
  return useQuery({
    queryKey: ['customers', 'search', q, limit],
    queryFn: () => unwrap(api.GET('/api/v1/customers', { params: { query: { q, limit } } })),
    enabled: q.length > 0,
    placeholderData: keepPreviousData,
  });
}

/** The 360° view of one customer. */
export function useCustomer360(customerNo: string) {
  return useQuery({
    queryKey: ['customers', customerNo, '360'],
    queryFn: () =>
      unwrap(api.GET('/api/v1/customers/{customer_no}', { params: { path: { customer_no: customerNo } } })),
    retry: false,
  });
}

/** The journeys the customer is or was in, with the node they are at. */
export function useCustomerJourneys(customerNo: string, enabled: boolean) {
  return useQuery({
    queryKey: ['customers', customerNo, 'journeys'],
    queryFn: () =>
      unwrap(api.GET('/api/v1/customers/{customer_no}/journeys', { params: { path: { customer_no: customerNo } } })),
    enabled,
  });
}

/** Messages sent to, or skipped for, the customer, with the reason. */
export function useCustomerMessages(customerNo: string, enabled: boolean) {
  return useQuery({
    queryKey: ['customers', customerNo, 'messages'],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/customers/{customer_no}/messages', {
          params: { path: { customer_no: customerNo }, query: { limit: 50 } },
        }),
      ),
    enabled,
  });
}


/** The customer's advisor tasks of every status (within the caller's scope: others' customers have none). */
export function useCustomerTasks(customerNo: string, enabled: boolean) {
  return useQuery({
    queryKey: ['customers', customerNo, 'tasks'],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/tasks', {
          params: { query: { customer_no: customerNo, status: 'all', limit: 200 } },
        }),
      ),
    enabled,
  });
}
