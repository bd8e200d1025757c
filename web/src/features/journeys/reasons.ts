/** Why messages were held back at a node, grouped into the kinds an operator acts on (the channel
 * policies' reasons are sentences with a recognisable start; see channels/dispatcher.py). */
export const REASON_KINDS = [
  'holdout',
  'consent',
  'dnd',
  'quiet',
  'frequency',
  'suitability',
  'address',
  'rate',
  'other',
] as const;
export type ReasonKind = (typeof REASON_KINDS)[number];

const PREFIXES: [string, ReasonKind][] = [
  ['hold-out', 'holdout'],
  ['consent:', 'consent'],
  ['do-not-disturb', 'dnd'],
  ['quiet hours', 'quiet'],
  ['frequency cap', 'frequency'],
  ['suitability', 'suitability'],
  ['no ', 'address'],
  ['rate limit', 'rate'],
];

/** The kind of one reason as the backend words it. */
export function reasonKind(reason: string): ReasonKind {
  const text = reason.trim().toLowerCase();
  return PREFIXES.find(([prefix]) => text.startsWith(prefix))?.[1] ?? 'other';
}

/** One row of the breakdown: a kind, its count, its share of all held messages and the reasons in it. */
export interface ReasonRow {
  kind: ReasonKind;
  count: number;
  share: number;
  reasons: { reason: string; count: number }[];
}

/** Held messages by kind, the largest first (ties in REASON_KINDS order); each kind's reasons likewise. */
export function reasonBreakdown(reasons: Record<string, number> | undefined | null): ReasonRow[] {
  const entries = Object.entries(reasons ?? {}).filter(([, n]) => n > 0);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const byKind = new Map<ReasonKind, { reason: string; count: number }[]>();
  for (const [reason, count] of entries) {
    const kind = reasonKind(reason);
    byKind.set(kind, [...(byKind.get(kind) ?? []), { reason, count }]);
  }
  const rows = [...byKind.entries()].map(([kind, items]) => {
    const count = items.reduce((sum, r) => sum + r.count, 0);
    const sorted = [...items].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
    return { kind, count, share: count / total, reasons: sorted };
  });
  return rows.sort((a, b) => b.count - a.count || REASON_KINDS.indexOf(a.kind) - REASON_KINDS.indexOf(b.kind));
}

/** Every node's reasons added up: the journey's breakdown. */
export function mergeReasons(all: (Record<string, number> | undefined | null)[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const reasons of all) {
    for (const [reason, n] of Object.entries(reasons ?? {})) merged[reason] = (merged[reason] ?? 0) + n;
  }
  return merged;
}
