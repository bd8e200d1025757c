/** Pure helpers of the template editor: a line diff between two versions, the content check's faults by
 * the field they name, where banned words sit in a text, and inserting a variable at the cursor. */

export type DiffLine = { kind: 'same' | 'added' | 'removed'; text: string };

/** The lines of `before` and `after` as kept, removed and added, by their longest common subsequence
 * (templates are a few dozen lines: the quadratic table is small). */
export function lineDiff(before: string, after: string): DiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const width = b.length + 1;
  // common[i * width + j]: the length of the longest common subsequence of a[i:] and b[j:]
  const common = new Array<number>((a.length + 1) * width).fill(0);
  const lcs = (i: number, j: number) => common[i * width + j] ?? 0;
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i * width + j] = a[i] === b[j] ? lcs(i + 1, j + 1) + 1 : Math.max(lcs(i + 1, j), lcs(i, j + 1));
    }
  }
  const lines: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push({ kind: 'same', text: a[i] ?? '' });
      i++;
      j++;
    } else if (j >= b.length || (i < a.length && lcs(i + 1, j) >= lcs(i, j + 1))) {
      lines.push({ kind: 'removed', text: a[i++] ?? '' });
    } else {
      lines.push({ kind: 'added', text: b[j++] ?? '' });
    }
  }
  return lines;
}

/** A template as lines to compare: each field on its own line(s), named, in a fixed order. */
export function templateLines(template: Record<string, unknown>): string {
  const order = ['title', 'channel', 'classification', 'urgent', 'subject', 'body', 'url', 'product', 'provider_template_id', 'params', 'track_links', 'description', 'owner'];
  const keys = [...order.filter((k) => k in template), ...Object.keys(template).filter((k) => !order.includes(k) && k !== 'name').sort()];
  return keys
    .filter((k) => template[k] !== null && template[k] !== undefined && template[k] !== '')
    .map((k) => {
      const value = template[k];
      if (value && typeof value === 'object') {
        return Object.entries(value as Record<string, unknown>)
          .map(([p, v]) => `${k}.${p}: ${String(v)}`)
          .join('\n');
      }
      return `${k}: ${value === null || value === undefined ? '' : String(value)}`;
    })
    .filter((line) => line !== '')
    .join('\n');
}

/** The fields the editor shows a fault under (`params.NAME` goes under the params). */
export const FAULT_PLACES = ['title', 'subject', 'body', 'url', 'product', 'provider_template_id', 'params'] as const;
export type FaultPlace = (typeof FAULT_PLACES)[number];

/** The content check's faults ("place: message") by the field they name; those naming no field the editor
 * shows (sandbox, urgent …) under `general`, whole. */
export function faultsByPlace(faults: string[]): { byPlace: Partial<Record<FaultPlace, string[]>>; general: string[] } {
  const byPlace: Partial<Record<FaultPlace, string[]>> = {};
  const general: string[] = [];
  for (const fault of faults) {
    const cut = fault.indexOf(': ');
    const place = cut > 0 ? fault.slice(0, cut) : '';
    const field = (place.startsWith('params.') ? 'params' : place) as FaultPlace;
    if (FAULT_PLACES.includes(field)) {
      const message = place.startsWith('params.') ? `${place.slice(7)}: ${fault.slice(cut + 2)}` : fault.slice(cut + 2);
      (byPlace[field] ??= []).push(message);
    } else {
      general.push(fault);
    }
  }
  return { byPlace, general };
}

export type Piece = { text: string; banned: boolean };

/** A text cut into pieces, those that are a banned word marked (the longest word wins where two overlap). */
export function markBanned(text: string, words: string[]): Piece[] {
  const wanted = words.filter((w) => w.length > 0).sort((x, y) => y.length - x.length);
  const pieces: Piece[] = [];
  let plain = '';
  let at = 0;
  while (at < text.length) {
    const word = wanted.find((w) => text.startsWith(w, at));
    if (word) {
      if (plain) pieces.push({ text: plain, banned: false });
      plain = '';
      pieces.push({ text: word, banned: true });
      at += word.length;
    } else {
      plain += text.charAt(at++);
    }
  }
  if (plain) pieces.push({ text: plain, banned: false });
  return pieces;
}

/** The text with `{{ variable }}` put in place of the selection [start, end), and where the cursor goes. */
export function insertVariable(text: string, start: number, end: number, variable: string): { text: string; cursor: number } {
  const snippet = `{{ ${variable} }}`;
  const from = Math.max(0, Math.min(start, text.length));
  const to = Math.max(from, Math.min(end, text.length));
  return { text: text.slice(0, from) + snippet + text.slice(to), cursor: from + snippet.length };
}
