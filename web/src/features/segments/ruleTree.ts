// The segment rule builder's state and its conversion to and from the rule JSON the API takes
// (GET /segments/schema). Groups become nodes with ids the UI can address; a condition keeps its JSON body
// as it is, so that a rule converted to the builder's state and back is the same rule. Pure functions,
// tested in ruleTree.test.ts on every sample rule the backend tests use (tests/fixtures/segment_rules.json).

export type LeafType = 'tag' | 'indicator' | 'attribute' | 'event' | 'sequence' | 'segment' | 'list';
export type Json = Record<string, unknown>;

export interface GroupNode {
  id: string;
  type: 'all' | 'any';
  children: RuleNode[];
}
export interface NotNode {
  id: string;
  type: 'not';
  child: RuleNode;
}
export interface LeafNode {
  id: string;
  type: LeafType;
  body: Json;
}
export type RuleNode = GroupNode | NotNode | LeafNode;

export const LEAF_TYPES: LeafType[] = ['tag', 'indicator', 'attribute', 'event', 'sequence', 'segment', 'list'];
export const MAX_DEPTH = 3;
export const WINDOW = /^([1-9]\d*)(d|h|td)$/;

let counter = 0;
function nextId(): string {
  counter += 1;
  return `n${counter}`;
}

/** The kind of a rule JSON node, from its distinguishing key (null: not a rule node). */
export function typeOf(rule: unknown): RuleNode['type'] | null {
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return null;
  for (const key of ['all', 'any', 'not', ...LEAF_TYPES] as const) {
    if (key in rule) return key;
  }
  return null;
}

/** The builder's tree for a rule (throws on a node of no known kind). */
export function fromRule(rule: unknown): RuleNode {
  const type = typeOf(rule);
  const json = rule as Json;
  if (type === 'all' || type === 'any') {
    return { id: nextId(), type, children: (json[type] as unknown[]).map(fromRule) };
  }
  if (type === 'not') return { id: nextId(), type, child: fromRule(json.not) };
  if (type === null) throw new Error(`not a rule node: ${JSON.stringify(rule)}`);
  return { id: nextId(), type, body: structuredClone(json) };
}

/** The rule JSON of a builder tree. */
export function toRule(node: RuleNode): Json {
  switch (node.type) {
    case 'all':
      return { all: node.children.map(toRule) };
    case 'any':
      return { any: node.children.map(toRule) };
    case 'not':
      return { not: toRule(node.child) };
    default:
      return structuredClone(node.body);
  }
}

/** A new condition of a type, with the blanks a user fills in. */
export function blankLeaf(type: LeafType): LeafNode {
  const bodies: Record<LeafType, Json> = {
    tag: { tag: '', in: [] },
    indicator: { indicator: '', op: '>=', value: null },
    attribute: { attribute: '', in: [] },
    event: { event: '', count: { op: '>=', value: 1 }, within: '30d' },
    sequence: { sequence: [{ event: '' }, { event: '' }], gap: '7d', within: '30d' },
    segment: { segment: '' },
    list: { list: '' },
  };
  return { id: nextId(), type, body: bodies[type] };
}

/** A new group holding one node. */
export function group(type: 'all' | 'any', children: RuleNode[]): GroupNode {
  return { id: nextId(), type, children };
}

/** A new NOT around a node. */
export function negate(child: RuleNode): NotNode {
  return { id: nextId(), type: 'not', child };
}

/** The tree with the node of `id` replaced by `next` (the same tree when no node has that id). */
export function replaceNode(tree: RuleNode, id: string, next: RuleNode): RuleNode {
  if (tree.id === id) return next;
  if (tree.type === 'all' || tree.type === 'any') {
    return { ...tree, children: tree.children.map((c) => replaceNode(c, id, next)) };
  }
  if (tree.type === 'not') return { ...tree, child: replaceNode(tree.child, id, next) };
  return tree;
}

/** The tree without the node of `id`; a group left empty goes too, and a NOT whose child goes goes with it.
 * Removing the root gives null. Siblings keep their order and content (PostHog #29886: removing one criterion
 * blanked those below). */
export function removeNode(tree: RuleNode, id: string): RuleNode | null {
  if (tree.id === id) return null;
  if (tree.type === 'all' || tree.type === 'any') {
    const children = tree.children.map((c) => removeNode(c, id)).filter((c): c is RuleNode => c !== null);
    return children.length ? { ...tree, children } : null;
  }
  if (tree.type === 'not') {
    const child = removeNode(tree.child, id);
    return child ? { ...tree, child } : null;
  }
  return tree;
}

/** The tree with `node` appended to the group of `groupId`. */
export function addChild(tree: RuleNode, groupId: string, node: RuleNode): RuleNode {
  if ((tree.type === 'all' || tree.type === 'any') && tree.id === groupId) {
    return { ...tree, children: [...tree.children, node] };
  }
  if (tree.type === 'all' || tree.type === 'any') {
    return { ...tree, children: tree.children.map((c) => addChild(c, groupId, node)) };
  }
  if (tree.type === 'not') return { ...tree, child: addChild(tree.child, groupId, node) };
  return tree;
}

function filled(text: unknown): boolean {
  return typeof text === 'string' && text.trim() !== '';
}

function windowOk(text: unknown): boolean {
  return typeof text === 'string' && WINDOW.test(text);
}

function stepsOk(steps: unknown): boolean {
  return Array.isArray(steps) && steps.length >= 2 && steps.every((s) => filled((s as Json).event));
}

/** Whether a condition has every part a rule needs (an unfinished one is shown, not sent for a count). */
export function isComplete(node: RuleNode): boolean {
  if (node.type === 'all' || node.type === 'any') return node.children.length > 0 && node.children.every(isComplete);
  if (node.type === 'not') return isComplete(node.child);
  const b = (node as LeafNode).body;
  const listOrExists = () =>
    (Array.isArray(b.in) && b.in.length > 0) || (Array.isArray(b.not_in) && b.not_in.length > 0) || typeof b.exists === 'boolean';
  switch (node.type) {
    case 'tag':
      return filled(b.tag) && listOrExists();
    case 'indicator':
      return filled(b.indicator) && (b.op === 'between' ? Array.isArray(b.value) && b.value.every((v: unknown) => typeof v === 'number') : typeof b.value === 'number');
    case 'attribute':
      return filled(b.attribute) && (listOrExists() || (filled(b.op) && b.value !== null && b.value !== undefined && b.value !== ''));
    case 'event':
      return filled(b.event) && windowOk(b.within);
    case 'sequence':
      return stepsOk(b.sequence) && windowOk(b.within) && windowOk(b.gap);
    case 'segment':
      return filled(b.segment);
    case 'list':
      return filled(b.list);
  }
}

/** How deep a node sits below the root (the root is 0). */
export function depthOf(tree: RuleNode, id: string, depth = 0): number | null {
  if (tree.id === id) return depth;
  const children = tree.type === 'all' || tree.type === 'any' ? tree.children : tree.type === 'not' ? [tree.child] : [];
  for (const child of children) {
    const found = depthOf(child, id, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/** A window such as `20td` as its number and unit. */
export function splitWindow(text: unknown): { n: number; unit: 'd' | 'h' | 'td' } {
  const match = typeof text === 'string' ? WINDOW.exec(text) : null;
  return match ? { n: Number(match[1]), unit: match[2] as 'd' | 'h' | 'td' } : { n: 30, unit: 'd' };
}

/** The value typed into an attribute condition, as the attribute's kind (`attribute_kinds` of the fields API)
 * needs it: a number for numeric attributes, true/false for yes/no ones, text otherwise — a branch number
 * `3101` stays the text "3101", and a date stays its YYYY-MM-DD text. */
export function attributeValue(kind: string | undefined, text: string): string | number | boolean {
  if ((kind === 'int' || kind === 'float') && text.trim() !== '' && !Number.isNaN(Number(text))) return Number(text);
  if (kind === 'bool' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

/** A condition's value after its attribute changed: each text or number typed again for the new attribute's
 * kind (a parameter reference or no value stays as it is). */
export function retypeAttributeValue(kind: string | undefined, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => retypeAttributeValue(kind, v));
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return attributeValue(kind, String(value));
  return value;
}
