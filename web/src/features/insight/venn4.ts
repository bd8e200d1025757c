/** The classic four-ellipse Venn diagram (the layout of VennDiagram and pyvenn): two pairs of ellipses tilted
 * towards each other, in which every one of the 15 combinations of four sets is one connected region. Plain
 * geometry, drawn as SVG by ComparePage. */

export interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  /** Clockwise rotation in degrees, as SVG's `rotate`. */
  angle: number;
}

export interface Point {
  x: number;
  y: number;
}

/** Sets A, B, C, D from left to right; SVG units (y down). */
export const VENN4_ELLIPSES: readonly Ellipse[] = [
  { cx: 140, cy: 240, rx: 144, ry: 90, angle: 40 },
  { cx: 180, cy: 200, rx: 144, ry: 90, angle: 40 },
  { cx: 217.6, cy: 200, rx: 144, ry: 90, angle: 140 },
  { cx: 257.6, cy: 240, rx: 144, ry: 90, angle: 140 },
];

/** The box that holds the four ellipses, as an SVG viewBox's x, y, width and height. */
export const VENN4_BOX = { x: 8, y: 78, width: 384, height: 284 } as const;

/** Whether a point lies inside an ellipse (the boundary counts as outside). */
export function insideEllipse(e: Ellipse, p: Point): boolean {
  const a = (e.angle * Math.PI) / 180;
  const dx = p.x - e.cx;
  const dy = p.y - e.cy;
  // Into the ellipse's own axes: rotate the offset back by its angle.
  const u = dx * Math.cos(a) + dy * Math.sin(a);
  const v = -dx * Math.sin(a) + dy * Math.cos(a);
  return (u * u) / (e.rx * e.rx) + (v * v) / (e.ry * e.ry) < 1;
}

/** The sets a point is in, as a bit mask (bit i: set i; 0: outside all four). */
export function regionOf(p: Point, ellipses: readonly Ellipse[] = VENN4_ELLIPSES): number {
  return ellipses.reduce((mask, e, i) => (insideEllipse(e, p) ? mask | (1 << i) : mask), 0);
}

/** The mask of a region given by its segments' names (bit i: `names[i]`; a name not among them: 0). */
export function regionMask(members: readonly string[], names: readonly string[]): number {
  if (members.some((m) => !names.includes(m))) return 0;
  return members.reduce((mask, m) => mask | (1 << names.indexOf(m)), 0);
}

const STEP = 2;
let cached: Map<number, Point & { clearance: number }> | null = null;

/** Where to write each region's count: for every mask 1…15, the point of the region farthest from its edge
 * (measured on a 2-unit grid by a chamfer distance transform), with that distance as `clearance`. */
export function venn4LabelPoints(): Map<number, Point & { clearance: number }> {
  if (cached) return cached;
  const columns = Math.ceil(VENN4_BOX.width / STEP);
  const rows = Math.ceil(VENN4_BOX.height / STEP);
  const mask = new Uint8Array(columns * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      mask[r * columns + c] = regionOf(cellCentre(c, r));
    }
  }
  const found = new Map<number, Point & { clearance: number }>();
  const distance = new Float64Array(columns * rows);
  const diagonal = Math.SQRT2;
  for (let region = 1; region < 16; region++) {
    // Distance (in cells) to the nearest cell outside the region; the grid's border counts as outside.
    for (let i = 0; i < distance.length; i++) distance[i] = mask[i] === region ? Infinity : 0;
    const at = (c: number, r: number) => (c < 0 || r < 0 || c >= columns || r >= rows ? 0 : distance[r * columns + c]!);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        const i = r * columns + c;
        if (distance[i] === 0) continue;
        distance[i] = Math.min(distance[i]!, at(c - 1, r) + 1, at(c, r - 1) + 1, at(c - 1, r - 1) + diagonal, at(c + 1, r - 1) + diagonal);
      }
    }
    let best = -1;
    for (let r = rows - 1; r >= 0; r--) {
      for (let c = columns - 1; c >= 0; c--) {
        const i = r * columns + c;
        if (distance[i] === 0) continue;
        distance[i] = Math.min(distance[i]!, at(c + 1, r) + 1, at(c, r + 1) + 1, at(c + 1, r + 1) + diagonal, at(c - 1, r + 1) + diagonal);
        if (best < 0 || distance[i]! >= distance[best]!) best = i;
      }
    }
    if (best >= 0) {
      found.set(region, { ...cellCentre(best % columns, Math.floor(best / columns)), clearance: distance[best]! * STEP });
    }
  }
  cached = found;
  return found;
}

function cellCentre(c: number, r: number): Point {
  return { x: VENN4_BOX.x + (c + 0.5) * STEP, y: VENN4_BOX.y + (r + 0.5) * STEP };
}
