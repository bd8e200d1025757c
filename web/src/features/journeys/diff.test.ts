import { describe, expect, it } from 'vitest';
import { diffNodes, diffSettings } from './diff';

const v1 = {
  name: 'j', title: 'one', entry: { type: 'api' }, start: 'a', layout: { a: { x: 0, y: 0 } },
  nodes: [
    { id: 'a', type: 'wait', duration: '1d', next: 'b' },
    { id: 'b', type: 'exit' },
  ],
};

describe('the diff between two versions', () => {
  it('names added, removed and changed nodes, edges and settings, not positions or key order', () => {
    const v2 = {
      ...v1, title: 'two', layout: { a: { x: 9, y: 9 } },
      nodes: [{ next: 'c', type: 'wait', duration: '1d', id: 'a' }, { id: 'c', type: 'exit' }],
    };
    expect(diffNodes(v1, v2)).toEqual({ added: ['c'], removed: ['b'], changed: ['a'] });
    expect(diffSettings(v1, v2)).toEqual(['title']);
    expect(diffNodes(v1, { ...v1, nodes: [{ type: 'wait', next: 'b', duration: '1d', id: 'a' }, { id: 'b', type: 'exit' }] })).toEqual({ added: [], removed: [], changed: [] });
  });
});
