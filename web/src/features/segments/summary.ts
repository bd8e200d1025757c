import type { MessageKey } from '@/locales/zh-CN';
import { splitWindow, type Json, type RuleNode } from './ruleTree';

type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

function list(values: unknown): string {
  return Array.isArray(values) ? values.map(String).join('、') : '';
}

function windowText(text: unknown, t: Translate): string {
  const { n, unit } = splitWindow(text);
  return `${n} ${t(`builder.unit.${unit}`)}`;
}

function membership(b: Json, t: Translate): string {
  if (Array.isArray(b.in)) return `${t('builder.in')} ${list(b.in)}`;
  if (Array.isArray(b.not_in)) return `${t('builder.not_in')} ${list(b.not_in)}`;
  return b.exists ? t('builder.exists') : t('builder.missing');
}

/** A one-line reading of a rule under the segment's title (Laudspeaker's FilterSummary), in the user's
 * language; names stay as the catalogue writes them. */
export function summarize(node: RuleNode, t: Translate, titles: Record<string, string> = {}): string {
  const name = (key: unknown) => titles[String(key)] ?? String(key ?? '?');
  switch (node.type) {
    case 'all':
    case 'any': {
      const joiner = ` ${node.type === 'all' ? t('builder.and') : t('builder.or')} `;
      const parts = node.children.map((c) => {
        const text = summarize(c, t, titles);
        return c.type === 'all' || c.type === 'any' ? `(${text})` : text;
      });
      return parts.join(joiner);
    }
    case 'not':
      return `${t('builder.not')} (${summarize(node.child, t, titles)})`;
    case 'tag':
      return `${name(node.body.tag)} ${membership(node.body, t)}`;
    case 'indicator':
      return `${name(node.body.indicator)} ${String(node.body.op)} ${Array.isArray(node.body.value) ? list(node.body.value) : String(node.body.value ?? '?')}`;
    case 'attribute':
      return typeof node.body.op === 'string'
        ? `${String(node.body.attribute)} ${node.body.op} ${String(node.body.value ?? '?')}`
        : `${String(node.body.attribute)} ${membership(node.body, t)}`;
    case 'event': {
      const count = (node.body.count as Json | undefined) ?? { op: '>=', value: 1 };
      return `${t('builder.within')} ${windowText(node.body.within, t)} ${String(node.body.event || '?')} ${t('builder.times')} ${String(count.op)} ${String(count.value)}`;
    }
    case 'sequence': {
      const steps = ((node.body.sequence as Json[]) ?? []).map((s) => String(s.event || '?')).join(' → ');
      return `${t('builder.leaf.sequence')} ${steps} (${t('builder.within')} ${windowText(node.body.within, t)})`;
    }
    case 'segment':
      return `${t('builder.leaf.segment')} ${String(node.body.segment || '?')}`;
    case 'list':
      return `${t('builder.leaf.list')} ${String(node.body.list || '?')}`;
  }
}
