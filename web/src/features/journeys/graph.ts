/**
 * The journey definition (the engine's JSON, as PUT /journeys/{name} takes it) ⇄ the canvas's nodes and edges.
 *
 * The definition is the one truth: the canvas is derived from it and turned back into it by these pure
 * functions. Every edge the engine names (`next`, `on_event`, `on_timeout`, each branch's and variant's `next`,
 * a split's `default`) becomes a canvas edge leaving a named handle; whatever else a node holds stays in its
 * data untouched, so that a definition round-trips unchanged. The entry is a node of its own (`entry`) whose
 * edge leads to the start node. Positions live in the definition's `layout`; a definition without them (one
 * imported from YAML) is laid out automatically, top to bottom.
 */
import dagre from '@dagrejs/dagre';

export type Json = Record<string, unknown>;

export const ENTRY_ID = 'entry';
export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 72;

/** The engine's node types, plus the entry. */
export type NodeKind = 'entry' | 'wait' | 'wait_for_event' | 'split' | 'ab_split' | 'action' | 'exit';

export interface Point {
  x: number;
  y: number;
}

export interface CanvasNode {
  id: string;
  kind: NodeKind;
  position: Point;
  /** The node as the definition holds it, without its edges (the entry: the definition's `entry`). */
  data: Json;
}

export interface CanvasEdge {
  id: string;
  source: string;
  /** `next`, `on_event`, `on_timeout`, `default`, `branch:<i>` or `variant:<i>`. */
  handle: string;
  target: string;
}

export interface Canvas {
  nodes: CanvasNode[];
  edges: CanvasEdge[];
  /** Everything of the definition but its entry, start, nodes and layout: name, title, goal, caps… */
  settings: Json;
}

const EDGE_FIELDS: Record<string, string[]> = {
  wait: ['next'],
  wait_for_event: ['on_event', 'on_timeout'],
  split: ['default'],
  action: ['next'],
  ab_split: [],
  exit: [],
};

/** The handles a node of this kind has, in the order they are drawn. */
export function handlesOf(kind: NodeKind, data: Json): string[] {
  if (kind === 'entry') return ['next'];
  if (kind === 'split') return [...list(data.branches).map((_, i) => `branch:${i}`), 'default'];
  if (kind === 'ab_split') return list(data.variants).map((_, i) => `variant:${i}`);
  return EDGE_FIELDS[kind] ?? [];
}

export function edgeId(source: string, handle: string): string {
  return `${source}→${handle}`;
}

/** The canvas of a definition: nodes with their data, edges by handle, positions from `layout` or laid out. */
export function toCanvas(definition: Json): Canvas {
  const { entry, start, nodes, layout, ...settings } = definition;
  const saved = (layout ?? {}) as Record<string, Point>;
  const canvasNodes: CanvasNode[] = [
    { id: ENTRY_ID, kind: 'entry', position: { x: 0, y: 0 }, data: { ...(entry as Json) } },
  ];
  const edges: CanvasEdge[] = [];
  if (typeof start === 'string' && start) edges.push(edge(ENTRY_ID, 'next', start));
  for (const node of list(nodes) as Json[]) {
    const { data, out } = splitEdges(node);
    canvasNodes.push({ id: String(node.id), kind: node.type as NodeKind, position: { x: 0, y: 0 }, data });
    for (const [handle, target] of out) edges.push(edge(String(node.id), handle, target));
  }
  const complete = canvasNodes.every((n) => saved[n.id] !== undefined);
  const placed = complete
    ? canvasNodes.map((n) => ({ ...n, position: { x: saved[n.id]!.x, y: saved[n.id]!.y } }))
    : autoLayout(canvasNodes, edges);
  return { nodes: placed, edges, settings };
}

/** The definition the canvas stands for, positions kept in `layout`. Missing edges become empty targets, which
 * the backend's check names on their node. */
export function fromCanvas(canvas: Canvas): Json {
  const outgoing = new Map(canvas.edges.map((e) => [edgeId(e.source, e.handle), e.target]));
  const entry = canvas.nodes.find((n) => n.kind === 'entry');
  const nodes = canvas.nodes.filter((n) => n.kind !== 'entry').map((n) => joinEdges(n, outgoing));
  const layout: Record<string, Point> = {};
  for (const n of canvas.nodes) layout[n.id] = { x: round(n.position.x), y: round(n.position.y) };
  return {
    ...canvas.settings,
    entry: entry ? { ...entry.data } : {},
    start: outgoing.get(edgeId(ENTRY_ID, 'next')) ?? '',
    nodes,
    layout,
  };
}

/** Positions for every node, top to bottom in the order edges lead (dagre). */
export function autoLayout(nodes: CanvasNode[], edges: CanvasEdge[]): CanvasNode[] {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'TB', nodesep: 56, ranksep: 96 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) graph.setNode(n.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of edges) if (graph.hasNode(e.target)) graph.setEdge(e.source, e.target);
  dagre.layout(graph);
  return nodes.map((n) => {
    const at = graph.node(n.id);
    return { ...n, position: { x: round(at.x - NODE_WIDTH / 2), y: round(at.y - NODE_HEIGHT / 2) } };
  });
}

function splitEdges(node: Json): { data: Json; out: [string, string][] } {
  const data: Json = { ...node };
  const out: [string, string][] = [];
  for (const field of EDGE_FIELDS[String(node.type)] ?? []) {
    // A target becomes an edge; an action's `next: null` (it ends the run) stays in the data as it was.
    if (typeof data[field] === 'string') {
      out.push([field, data[field] as string]);
      delete data[field];
    }
  }
  if (node.type === 'split') {
    data.branches = list(node.branches).map((b, i) => withoutNext(b as Json, `branch:${i}`, out));
  }
  if (node.type === 'ab_split') {
    data.variants = list(node.variants).map((v, i) => withoutNext(v as Json, `variant:${i}`, out));
  }
  delete data.id;
  delete data.type;
  return { data, out };
}

function withoutNext(item: Json, handle: string, out: [string, string][]): Json {
  const { next, ...rest } = item;
  if (typeof next === 'string') out.push([handle, next]);
  return rest;
}

function joinEdges(node: CanvasNode, outgoing: Map<string, string>): Json {
  const target = (handle: string): string | undefined => outgoing.get(edgeId(node.id, handle));
  const joined: Json = { id: node.id, type: node.kind, ...node.data };
  if (node.kind === 'wait') joined.next = target('next') ?? '';
  if (node.kind === 'wait_for_event') {
    joined.on_event = target('on_event') ?? '';
    joined.on_timeout = target('on_timeout') ?? '';
  }
  if (node.kind === 'action') {
    const next = target('next');
    if (next !== undefined) joined.next = next; // an action without a next ends the run
  }
  if (node.kind === 'split') {
    joined.branches = list(node.data.branches).map((b, i) => ({ ...(b as Json), next: target(`branch:${i}`) ?? '' }));
    joined.default = target('default') ?? '';
  }
  if (node.kind === 'ab_split') {
    joined.variants = list(node.data.variants).map((v, i) => ({ ...(v as Json), next: target(`variant:${i}`) ?? '' }));
  }
  return joined;
}

function edge(source: string, handle: string, target: string): CanvasEdge {
  return { id: edgeId(source, handle), source, handle, target };
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

// Editing ------------------------------------------------------------------------------------------------------

/** What the palette offers: each key makes a node of a kind with blank data (entries replace the entry). */
export const PALETTE = {
  entry_segment: { kind: 'entry', data: { type: 'segment', segment: '' } },
  entry_schedule: { kind: 'entry', data: { type: 'segment', segment: '', schedule: '0 9 * * 1-5' } },
  entry_event: { kind: 'entry', data: { type: 'event', event: '' } },
  entry_mot: { kind: 'entry', data: { type: 'event', event: 'mot_' } },
  entry_api: { kind: 'entry', data: { type: 'api', required: [] } },
  wait: { kind: 'wait', data: { duration: '1d' } },
  wait_until: { kind: 'wait', data: { until_time: '10:00', trading_day: true } },
  wait_for_event: { kind: 'wait_for_event', data: { event: '', timeout: '2d' } },
  split: { kind: 'split', data: { branches: [{ name: '分支1', rule: { all: [{ tag: '', in: [] }] } }] } },
  ab_split: { kind: 'ab_split', data: { variants: [{ name: 'A', weight: 50 }, { name: 'B', weight: 50 }] } },
  send: { kind: 'action', data: { action: { kind: 'send', channel: 'sms', template: '' } } },
  advisor_task: {
    kind: 'action',
    data: { action: { kind: 'advisor_task', title: '', talking_points: '', priority: 'normal', due: '1td' } },
  },
  set_tag: { kind: 'action', data: { action: { kind: 'set_tag', tag: '', value: '' } } },
  set_attribute: { kind: 'action', data: { action: { kind: 'set_attribute', attribute: '', value: '' } } },
  webhook: { kind: 'action', data: { action: { kind: 'webhook', url: 'https://' } } },
  exit: { kind: 'exit', data: {} },
} as const satisfies Record<string, { kind: NodeKind; data: Json }>;

export type PaletteKey = keyof typeof PALETTE;

/** The palette key a node stands for (an action by its kind, an entry by its type; an MOT event is MOT). */
export function paletteKeyOf(node: Pick<CanvasNode, 'kind' | 'data'>): PaletteKey {
  const data = node.data;
  if (node.kind === 'entry') {
    if (data.type === 'api') return 'entry_api';
    if (data.type === 'event') return String(data.event ?? '').startsWith('mot_') ? 'entry_mot' : 'entry_event';
    return data.schedule ? 'entry_schedule' : 'entry_segment';
  }
  if (node.kind === 'action') return String((data.action as Json | undefined)?.kind ?? 'send') as PaletteKey;
  if (node.kind === 'wait') return data.duration === undefined ? 'wait_until' : 'wait';
  return node.kind as PaletteKey;
}

/** A node id not yet on the canvas: `wait_1`, `wait_2`… */
export function freshId(canvas: Canvas, base: string): string {
  const taken = new Set(canvas.nodes.map((n) => n.id));
  for (let i = 1; ; i += 1) {
    const id = `${base}_${i}`;
    if (!taken.has(id)) return id;
  }
}

/** The canvas with a palette item placed at `position` (an entry item replaces the entry's data instead). */
export function addFromPalette(canvas: Canvas, key: PaletteKey, position: Point): { canvas: Canvas; id: string } {
  const item = PALETTE[key];
  const data = structuredClone(item.data) as Json;
  if (item.kind === 'entry') {
    const nodes = canvas.nodes.map((n) => (n.kind === 'entry' ? { ...n, data } : n));
    return { canvas: { ...canvas, nodes }, id: ENTRY_ID };
  }
  const id = freshId(canvas, key);
  return { canvas: { ...canvas, nodes: [...canvas.nodes, { id, kind: item.kind, position, data }] }, id };
}

/** Connect a handle to a node: a handle leads to one node, so an earlier edge from it is replaced. */
export function connect(canvas: Canvas, source: string, handle: string, target: string): Canvas {
  if (source === target || target === ENTRY_ID) return canvas;
  const id = edgeId(source, handle);
  return { ...canvas, edges: [...canvas.edges.filter((e) => e.id !== id), { id, source, handle, target }] };
}

/** Remove nodes (never the entry) and every edge touching them. */
export function removeNodes(canvas: Canvas, ids: string[]): Canvas {
  const gone = new Set(ids.filter((id) => id !== ENTRY_ID));
  return {
    ...canvas,
    nodes: canvas.nodes.filter((n) => !gone.has(n.id)),
    edges: canvas.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)),
  };
}

/** Remove a split's branch or an A/B split's variant; the edges of the items after it move up one handle. */
export function removeItem(canvas: Canvas, nodeId: string, list: 'branches' | 'variants', index: number): Canvas {
  const prefix = list === 'branches' ? 'branch' : 'variant';
  const nodes = canvas.nodes.map((n) =>
    n.id === nodeId ? { ...n, data: { ...n.data, [list]: (n.data[list] as Json[]).filter((_, i) => i !== index) } } : n,
  );
  const edges: CanvasEdge[] = [];
  for (const e of canvas.edges) {
    const [head, at] = e.handle.split(':');
    if (e.source !== nodeId || head !== prefix) {
      edges.push(e);
      continue;
    }
    const i = Number(at);
    if (i === index) continue;
    const handle = `${prefix}:${i > index ? i - 1 : i}`;
    edges.push({ ...e, handle, id: edgeId(nodeId, handle) });
  }
  return { ...canvas, nodes, edges };
}

/** Copies of nodes (new ids, shifted by `offset`) with the edges among them. */
export function duplicate(canvas: Canvas, ids: string[], offset: Point = { x: 40, y: 40 }): { canvas: Canvas; ids: string[] } {
  const chosen = canvas.nodes.filter((n) => ids.includes(n.id) && n.kind !== 'entry');
  let next = canvas;
  const renamed = new Map<string, string>();
  for (const node of chosen) {
    const id = freshId(next, node.id.replace(/_\d+$/, ''));
    renamed.set(node.id, id);
    const copy = { ...node, id, data: structuredClone(node.data), position: { x: node.position.x + offset.x, y: node.position.y + offset.y } };
    next = { ...next, nodes: [...next.nodes, copy] };
  }
  const edges = canvas.edges
    .filter((e) => renamed.has(e.source) && renamed.has(e.target))
    .map((e) => {
      const source = renamed.get(e.source)!;
      return { ...e, source, target: renamed.get(e.target)!, id: edgeId(source, e.handle) };
    });
  return { canvas: { ...next, edges: [...next.edges, ...edges] }, ids: [...renamed.values()] };
}

/** The engine's name for what leaving a node by `handle` counts as (NodeStats.outcomes keys). */
export function outcomeKeys(node: Pick<CanvasNode, 'kind' | 'data'>, handle: string): string[] {
  const [head, at] = handle.split(':');
  if (head === 'branch') return [`branch:${String((list(node.data.branches)[Number(at)] as Json | undefined)?.name)}`];
  if (head === 'variant') return [`variant:${String((list(node.data.variants)[Number(at)] as Json | undefined)?.name)}`];
  if (node.kind === 'action') return ['queued', 'skipped'];
  return [handle];
}
