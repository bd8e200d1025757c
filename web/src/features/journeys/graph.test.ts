import { describe, expect, it } from 'vitest';
import fixture from '../../../../tests/fixtures/journeys.json';
import { ENTRY_ID, fromCanvas, handlesOf, toCanvas, type Canvas, type Json } from './graph';

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
