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
  graph.setGraph({ rankdir: 'TB', nodesep: 48, ranksep: 64 });
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
