import { describe, expect, it } from 'vitest';
import fixture from '../../../../tests/fixtures/journeys.json';
import {
  addFromPalette, connect, duplicate, ENTRY_ID, fromCanvas, handlesOf, outcomeKeys, paletteKeyOf, removeItem, removeNodes, toCanvas,
  type Canvas, type Json,
} from './graph';

const shapes = fixture.flatMap((item) => [
  [`${item.name} as written`, item.written as Json] as const,
  [`${item.name} as stored`, item.stored as Json] as const,
]);

function withoutLayout(definition: Json): Json {
  const { layout: _layout, ...rest } = definition;
  return rest;
}

describe('journey definition ⇄ canvas', () => {
  it.each(shapes)('round-trips %s unchanged', (_, definition) => {
    const back = fromCanvas(toCanvas(definition));
    expect(withoutLayout(back)).toEqual(withoutLayout(definition));
    // Positions come back for every node (and the entry), laid out when the definition had none.
    const ids = [ENTRY_ID, ...(definition.nodes as Json[]).map((n) => String(n.id))];
    expect(Object.keys(back.layout as Json).sort()).toEqual([...ids].sort());
  });

  it.each(shapes)('keeps the positions it was given: %s', (_, definition) => {
    const once = fromCanvas(toCanvas(definition));
    expect(fromCanvas(toCanvas(once))).toEqual(once);
  });

  it('gives every engine edge its own canvas edge from the named handle', () => {
    for (const item of fixture) {
      const canvas = toCanvas(item.stored as Json);
      const expected = (item.stored.nodes as Json[]).reduce(
        (n, node) => n + handlesOf(node.type as never, node).filter((h) => target(node, h) !== null).length,
        1,
      );
      expect(canvas.edges).toHaveLength(expected);
      expect(new Set(canvas.edges.map((e) => e.id)).size).toBe(canvas.edges.length);
    }
  });

  it('lays out top to bottom: each edge leads down the canvas', () => {
    const canvas = toCanvas(fixture.find((i) => i.name === 'fund_autoinvest')!.written as Json);
    const y = new Map(canvas.nodes.map((n) => [n.id, n.position.y]));
    const forward = canvas.edges.filter((e) => y.get(e.target)! > y.get(e.source)!);
    expect(forward.length).toBeGreaterThanOrEqual(canvas.edges.length - 1);
  });

  it('leaves an unconnected handle empty for the check to name, and an action without next ending the run', () => {
    const canvas: Canvas = toCanvas({
      name: 'x',
      title: 'x',
      entry: { type: 'api' },
      start: 'w',
      nodes: [
        { id: 'w', type: 'wait', duration: '1d', next: 'a' },
        { id: 'a', type: 'action', action: { kind: 'send', channel: 'log', text: 'hi' } },
      ],
    });
    const cut = { ...canvas, edges: canvas.edges.filter((e) => e.source !== 'w') };
    const [wait, action] = fromCanvas(cut).nodes as [Json, Json];
    expect(wait.next).toBe('');
    expect('next' in action).toBe(false);
    expect(fromCanvas({ ...canvas, edges: [] }).start).toBe('');
  });
});

function target(node: Json, handle: string): string | null {
  const [field = '', index = '0'] = handle.split(':');
  const item = (many: unknown): unknown => (many as Json[])[Number(index)]?.next;
  const value = field === 'branch' ? item(node.branches) : field === 'variant' ? item(node.variants) : node[field];
  return typeof value === 'string' ? value : null;
}

describe('editing the canvas', () => {
  const base = toCanvas(fixture.find((i) => i.name === 'fund_autoinvest')!.written as Json);

  it('places a palette item under a fresh id, and an entry item replaces the entry', () => {
    const { canvas, id } = addFromPalette(base, 'wait', { x: 5, y: 6 });
    expect(id).toBe('wait_1');
    expect(canvas.nodes.at(-1)).toMatchObject({ id: 'wait_1', kind: 'wait', position: { x: 5, y: 6 }, data: { duration: '1d' } });
    expect(addFromPalette(canvas, 'wait', { x: 0, y: 0 }).id).toBe('wait_2');
    const entry = addFromPalette(base, 'entry_api', { x: 0, y: 0 }).canvas;
    expect(entry.nodes.filter((n) => n.kind === 'entry')).toHaveLength(1);
    expect(entry.nodes[0]!.data).toEqual({ type: 'api', required: [] });
    expect(paletteKeyOf(entry.nodes[0]!)).toBe('entry_api');
  });

  it('gives a handle one target and never leads into the entry or a node itself', () => {
    const once = connect(base, 'tier', 'default', 'advisor');
    expect(once.edges.filter((e) => e.source === 'tier' && e.handle === 'default').map((e) => e.target)).toEqual(['advisor']);
    expect(connect(base, 'tier', 'default', ENTRY_ID)).toBe(base);
    expect(connect(base, 'tier', 'default', 'tier')).toBe(base);
  });

  it('removes nodes with their edges but never the entry', () => {
    const cut = removeNodes(base, ['tier', ENTRY_ID]);
    expect(cut.nodes.map((n) => n.id)).toContain(ENTRY_ID);
    expect(cut.nodes.map((n) => n.id)).not.toContain('tier');
    expect(cut.edges.some((e) => e.source === 'tier' || e.target === 'tier')).toBe(false);
  });

  it('moves the edges of later branches up when a branch is removed', () => {
    let canvas = toCanvas({
      name: 'x', title: 'x', entry: { type: 'api' }, start: 's',
      nodes: [
        { id: 's', type: 'split', branches: ['a', 'b', 'c'].map((n) => ({ name: n, rule: { all: [] }, next: n })), default: 'a' },
        ...['a', 'b', 'c'].map((id) => ({ id, type: 'exit' })),
      ],
    });
    canvas = removeItem(canvas, 's', 'branches', 0);
    const split = (fromCanvas(canvas).nodes as Json[])[0]!;
    expect(split.branches).toEqual([{ name: 'b', rule: { all: [] }, next: 'b' }, { name: 'c', rule: { all: [] }, next: 'c' }]);
    expect(split.default).toBe('a');
  });

  it('copies nodes under new ids with the edges among them only', () => {
    const { canvas, ids } = duplicate(base, ['advisor', 'subscribed', ENTRY_ID]);
    expect(ids).toEqual(['advisor_1', 'subscribed_1']);
    const copied = canvas.edges.filter((e) => ids.includes(e.source));
    expect(copied.map((e) => [e.source, e.handle, e.target])).toEqual([['advisor_1', 'next', 'subscribed_1']]);
    const original = base.nodes.find((n) => n.id === 'advisor')!;
    expect(canvas.nodes.find((n) => n.id === 'advisor_1')!.position).toEqual({ x: original.position.x + 40, y: original.position.y + 40 });
  });

  it('names what leaving by a handle counts as in the statistics', () => {
    const tier = base.nodes.find((n) => n.id === 'tier')!;
    expect(outcomeKeys(tier, 'branch:0')).toEqual(['branch:高价值']);
    expect(outcomeKeys(tier, 'default')).toEqual(['default']);
    expect(outcomeKeys(base.nodes.find((n) => n.id === 'advisor')!, 'next')).toEqual(['queued', 'skipped']);
  });
});
