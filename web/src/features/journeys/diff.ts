import type { Json } from './graph';

/** How one version's nodes differ from another's, by node id: added, removed, changed (edges included). */
export function diffNodes(before: Json, after: Json): { added: string[]; removed: string[]; changed: string[] } {
  const index = (definition: Json) => new Map(((definition.nodes as Json[] | undefined) ?? []).map((n) => [String(n.id), JSON.stringify(sorted(n))]));
  const old = index(before);
  const now = index(after);
  return {
    added: [...now.keys()].filter((id) => !old.has(id)),
    removed: [...old.keys()].filter((id) => !now.has(id)),
    changed: [...now.keys()].filter((id) => old.has(id) && old.get(id) !== now.get(id)),
  };
}

/** What else changed: the entry, start and each setting whose value differs (positions are not a change). */
export function diffSettings(before: Json, after: Json): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  keys.delete('nodes');
  keys.delete('layout');
  return [...keys].filter((k) => JSON.stringify(sorted(before[k] ?? null)) !== JSON.stringify(sorted(after[k] ?? null))).sort();
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Json).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sorted(v)]));
  }
  return value;
}

/** The canvas marks of a version against another: each added node `added`, each changed one `changed`. */
export function versionMarks(before: Json, after: Json): Map<string, 'added' | 'changed'> {
  const diff = diffNodes(before, after);
  return new Map([...diff.added.map((id) => [id, 'added'] as const), ...diff.changed.map((id) => [id, 'changed'] as const)]);
}
