import { describe, expect, it } from 'vitest';
import samples from '../../../../tests/fixtures/segment_rules.json';
import {
  addChild, attributeValue, blankLeaf, retypeAttributeValue, depthOf, fromRule, group, isComplete, negate, removeNode, replaceNode, splitWindow, toRule, typeOf,
  type GroupNode,
} from './ruleTree';

describe('rule JSON ⇄ builder state', () => {
  it.each(samples.map((rule) => [JSON.stringify(rule).slice(0, 60), rule]))('round-trips %s', (_, rule) => {
    const tree = fromRule(rule);
    expect(toRule(tree)).toEqual(rule);
    expect(isComplete(tree)).toBe(true);
  });

  it('gives every node its own id', () => {
    const ids: string[] = [];
    const walk = (n: ReturnType<typeof fromRule>): void => {
      ids.push(n.id);
      if (n.type === 'all' || n.type === 'any') n.children.forEach(walk);
      if (n.type === 'not') walk(n.child);
    };
    samples.forEach((rule) => walk(fromRule(rule)));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a node of no known kind', () => {
    expect(() => fromRule({ nothing: 1 })).toThrow(/not a rule node/);
    expect(typeOf([1])).toBeNull();
  });
});

describe('editing the tree', () => {
  const tag = blankLeaf('tag');
  const event = blankLeaf('event');
  const inner = group('any', [event]);
  const root = group('all', [tag, inner]);

  it('adds, replaces and removes by id without touching siblings', () => {
    const added = addChild(root, inner.id, blankLeaf('segment')) as GroupNode;
    expect((added.children[1] as GroupNode).children.map((c) => c.type)).toEqual(['event', 'segment']);
    const replaced = replaceNode(added, tag.id, { ...tag, body: { tag: 'asset_tier', in: ['高净值'] } }) as GroupNode;
    expect(toRule(replaced.children[0]!)).toEqual({ tag: 'asset_tier', in: ['高净值'] });
    const removed = removeNode(replaced, event.id) as GroupNode;
    expect(toRule(removed)).toEqual({ all: [{ tag: 'asset_tier', in: ['高净值'] }, { any: [{ segment: '' }] }] });
  });

  it('drops a group left empty and a NOT left without its child', () => {
    expect(toRule(removeNode(root, event.id)!)).toEqual({ all: [{ tag: '', in: [] }] });
    const not = negate(blankLeaf('list'));
    expect(removeNode(group('all', [not]), (not.child).id)).toBeNull();
    expect(removeNode(root, root.id)).toBeNull();
  });

  it('knows depth and completeness', () => {
    expect(depthOf(root, event.id)).toBe(2);
    expect(depthOf(root, 'missing')).toBeNull();
    expect(isComplete(root)).toBe(false);
    expect(isComplete(fromRule({ event: 'login', count: { op: '>=', value: 1 }, within: '0d' }))).toBe(false);
    expect(isComplete(fromRule({ indicator: 'x', op: 'between', value: [1, null] }))).toBe(false);
  });

  it('splits windows into a number and a unit', () => {
    expect(splitWindow('20td')).toEqual({ n: 20, unit: 'td' });
    expect(splitWindow('48h')).toEqual({ n: 48, unit: 'h' });
    expect(splitWindow('bad')).toEqual({ n: 30, unit: 'd' });
  });
});

describe('attribute values typed by the attribute', () => {
  it.each([
    ['string', '3101', '3101'],
    ['date', '2020-06-01', '2020-06-01'],
    ['float', '3101', 3101],
    ['int', '-2', -2],
    ['float', 'abc', 'abc'],
    ['bool', 'true', true],
    ['bool', 'false', false],
    ['bool', 'yes', 'yes'],
    [undefined, '42', '42'],
  ] as const)('%s %s → %s', (kind, text, expected) => {
    expect(attributeValue(kind, text)).toEqual(expected);
  });
});

describe('attribute values typed again when the attribute changes', () => {
  it('turns a number into text for a text attribute and back for a numeric one, leaving parameters', () => {
    expect(retypeAttributeValue('string', 3101)).toBe('3101');
    expect(retypeAttributeValue('float', '3.5')).toBe(3.5);
    expect(retypeAttributeValue('bool', ['true', 'x'])).toEqual([true, 'x']);
    expect(retypeAttributeValue('string', { param: 'p' })).toEqual({ param: 'p' });
    expect(retypeAttributeValue('date', undefined)).toBeUndefined();
  });
});
