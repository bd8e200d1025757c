interface Ordered {
  status: string;
  due_at: string;
  id: string;
}

/** A customer's tasks as their 360° page lists them: open ones first, due soonest first (the overdue on
 * top), then the closed ones, the most recently due first. */
export function historyOrder<T extends Ordered>(tasks: readonly T[]): T[] {
  const due = (t: T) => Date.parse(t.due_at);
  return [...tasks].sort((a, b) => {
    const openA = a.status === 'open';
    const openB = b.status === 'open';
    if (openA !== openB) return openA ? -1 : 1;
    const byDue = openA ? due(a) - due(b) : due(b) - due(a);
    return byDue || a.id.localeCompare(b.id);
  });
}
