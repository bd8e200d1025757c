import {
  Background, Controls, MarkerType, ReactFlow, useReactFlow, type Connection, type Edge, type EdgeChange, type NodeChange,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useCallback, useMemo, useRef, type DragEvent } from 'react';
import { addFromPalette, connect, outcomeKeys, removeNodes, type Canvas, type PaletteKey } from './graph';
import { JourneyStep, type StepNode } from './JourneyNode';
import type { JourneyFault, NodeStats } from './queries';

export const DRAG_TYPE = 'application/x-touchpoint-node';

// Outside the component: React Flow redraws every node when nodeTypes changes identity.
const NODE_TYPES = { step: JourneyStep };

interface Props {
  canvas: Canvas;
  selected: string[];
  faults: Map<string, JourneyFault[]>;
  stats?: Map<string, NodeStats>;
  /** Node ids the diff against another version marks: added, changed. */
  marks?: Map<string, 'added' | 'changed'>;
  readOnly: boolean;
  onSelect: (ids: string[]) => void;
  /** A change that is its own step of the history (undo/redo). */
  onCommit?: (canvas: Canvas) => void;
  /** A change within a step (a drag under way). */
  onReplace?: (canvas: Canvas) => void;
  onDragStart?: () => void;
  onNodeOpen?: (id: string) => void;
}

/** The journey drawn with React Flow: nodes from the canvas state, edges from their handles, the palette dropped
 * onto it; read-only in the live view, where each node and edge carries its counts. */
export function JourneyCanvas({ canvas, selected, faults, stats, marks, readOnly, onSelect, onCommit, onReplace, onDragStart, onNodeOpen }: Props) {
  const flow = useReactFlow();
  // React Flow reports a node change and an edge change one after the other before React renders again: each
  // handler works on what the one before it left (a deleted node must not come back with the edges' change).
  const latest = useRef({ canvas, selected });
  latest.current = { canvas, selected };
  const commit = useCallback(
    (next: Canvas) => {
      latest.current = { ...latest.current, canvas: next };
      onCommit?.(next);
    },
    [onCommit],
  );
  const select = useCallback(
    (ids: string[]) => {
      latest.current = { ...latest.current, selected: ids };
      onSelect(ids);
    },
    [onSelect],
  );
  const chosen = useMemo(() => new Set(selected), [selected]);
  const nodes: StepNode[] = useMemo(
    () =>
      canvas.nodes.map((n) => ({
        id: n.id,
        type: 'step',
        position: n.position,
        selected: chosen.has(n.id),
        deletable: !readOnly && n.kind !== 'entry',
        className: marks?.get(n.id) ? `journey-mark-${marks.get(n.id)}` : undefined,
        data: { kind: n.kind, data: n.data, faults: faults.get(n.id) ?? [], stats: stats?.get(n.id) },
      })),
    [canvas.nodes, chosen, faults, stats, marks, readOnly],
  );
  const byId = useMemo(() => new Map(canvas.nodes.map((n) => [n.id, n])), [canvas.nodes]);
  const edges: Edge[] = useMemo(
    () =>
      canvas.edges.map((e) => {
        const source = byId.get(e.source);
        const counted = source && stats?.get(e.source) ? outcomeKeys(source, e.handle).reduce((n, k) => n + (stats.get(e.source)!.outcomes[k] ?? 0), 0) : null;
        const entered = source && stats?.get(e.source)?.entered;
        const share = counted !== null && entered ? ` · ${Math.round((counted / entered) * 1000) / 10}%` : '';
        // The handle names its way at the node; the edge carries the count of customers who took it.
        const text = counted !== null ? `${counted.toLocaleString()}${share}` : '';
        return {
          id: e.id,
          source: e.source,
          sourceHandle: e.handle,
          target: e.target,
          type: 'smoothstep',
          label: text || undefined,
          markerEnd: { type: MarkerType.ArrowClosed },
          deletable: !readOnly,
          selected: chosen.has(e.id),
        };
      }),
    [canvas.edges, byId, stats, chosen, readOnly],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange<StepNode>[]) => {
      const removed = changes.flatMap((c) => (c.type === 'remove' ? [c.id] : []));
      if (removed.length && onCommit && !readOnly) commit(removeNodes(latest.current.canvas, removed));
      const moves = changes.flatMap((c) => (c.type === 'position' && c.position ? [[c.id, c.position] as const] : []));
      if (moves.length && onReplace && !readOnly) {
        const at = new Map(moves);
        const base = latest.current.canvas;
        const next = { ...base, nodes: base.nodes.map((n) => (at.has(n.id) ? { ...n, position: at.get(n.id)! } : n)) };
        latest.current = { ...latest.current, canvas: next };
        onReplace(next);
      }
      const picks = changes.filter((c) => c.type === 'select');
      if (picks.length) {
        const next = new Set(latest.current.selected);
        for (const c of picks) if (c.type === 'select') (c.selected ? next.add(c.id) : next.delete(c.id));
        select([...next]);
      }
    },
    [commit, onCommit, onReplace, select, readOnly],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      const removed = new Set(changes.filter((c) => c.type === 'remove').map((c) => c.id));
      const base = latest.current.canvas;
      if (removed.size && onCommit && !readOnly && base.edges.some((e) => removed.has(e.id))) {
        commit({ ...base, edges: base.edges.filter((e) => !removed.has(e.id)) });
      }
      const picks = changes.filter((c) => c.type === 'select');
      if (picks.length) {
        const next = new Set(latest.current.selected);
        for (const c of picks) if (c.type === 'select') (c.selected ? next.add(c.id) : next.delete(c.id));
        select([...next]);
      }
    },
    [commit, onCommit, select, readOnly],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      if (onCommit && !readOnly) commit(connect(latest.current.canvas, c.source, c.sourceHandle ?? 'next', c.target));
    },
    [commit, onCommit, readOnly],
  );

  const onDrop = useCallback(
    (event: DragEvent) => {
      event.preventDefault();
      const key = event.dataTransfer.getData(DRAG_TYPE) as PaletteKey;
      if (!key || readOnly || !onCommit) return;
      const position = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      const placed = addFromPalette(canvas, key, { x: Math.round(position.x - 110), y: Math.round(position.y - 20) });
      onCommit(placed.canvas);
      onSelect([placed.id]);
    },
    [canvas, flow, onCommit, onSelect, readOnly],
  );

  return (
    <div className="journey-canvas" onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; }} onDrop={onDrop} data-testid="journey-canvas">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onNodeDragStart={onDragStart}
        onNodeDoubleClick={(_, node) => onNodeOpen?.(node.id)}
        onNodeClick={(_, node) => onNodeOpen?.(node.id)}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={readOnly ? null : ['Backspace', 'Delete']}
        onlyRenderVisibleElements={canvas.nodes.length > 100}
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
        minZoom={0.2}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
