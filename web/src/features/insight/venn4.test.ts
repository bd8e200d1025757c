import { describe, expect, it } from 'vitest';
import { insideEllipse, regionMask, regionOf, VENN4_BOX, VENN4_ELLIPSES, venn4LabelPoints } from './venn4';

describe('the four-set Venn layout', () => {
  it('has all 15 regions, each label inside its own region and clear of its edges', () => {
    const labels = venn4LabelPoints();
    expect([...labels.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    for (const [mask, point] of labels) {
      expect(regionOf(point)).toBe(mask);
      expect(point.clearance).toBeGreaterThanOrEqual(8);
    }
  });

  it('keeps labels apart and the ellipses inside the box', () => {
    const points = [...venn4LabelPoints().values()];
    for (const a of points) {
      for (const b of points) {
        if (a !== b) expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeGreaterThan(20);
      }
    }
    for (const e of VENN4_ELLIPSES) {
      const a = (e.angle * Math.PI) / 180;
      const halfWidth = Math.hypot(e.rx * Math.cos(a), e.ry * Math.sin(a));
      const halfHeight = Math.hypot(e.rx * Math.sin(a), e.ry * Math.cos(a));
      expect(e.cx - halfWidth).toBeGreaterThanOrEqual(VENN4_BOX.x);
      expect(e.cx + halfWidth).toBeLessThanOrEqual(VENN4_BOX.x + VENN4_BOX.width);
      expect(e.cy - halfHeight).toBeGreaterThanOrEqual(VENN4_BOX.y);
      expect(e.cy + halfHeight).toBeLessThanOrEqual(VENN4_BOX.y + VENN4_BOX.height);
    }
  });

  it('tells inside from outside along a tilted axis', () => {
    const [a] = VENN4_ELLIPSES;
    const along = (d: number) => ({
      x: a!.cx + d * Math.cos((a!.angle * Math.PI) / 180),
      y: a!.cy + d * Math.sin((a!.angle * Math.PI) / 180),
    });
    expect(insideEllipse(a!, along(140))).toBe(true);
    expect(insideEllipse(a!, along(148))).toBe(false);
    const across = (d: number) => ({
      x: a!.cx - d * Math.sin((a!.angle * Math.PI) / 180),
      y: a!.cy + d * Math.cos((a!.angle * Math.PI) / 180),
    });
    expect(insideEllipse(a!, across(85))).toBe(true);
    expect(insideEllipse(a!, across(95))).toBe(false);
    expect(regionOf({ x: 0, y: 0 })).toBe(0);
  });
});

describe('regionMask', () => {
  it('sets bit i for the i-th chosen segment', () => {
    const names = ['a', 'b', 'c', 'd'];
    expect(regionMask(['a'], names)).toBe(1);
    expect(regionMask(['b', 'd'], names)).toBe(10);
    expect(regionMask(['d', 'c', 'b', 'a'], names)).toBe(15);
    expect(regionMask(['a', 'x'], names)).toBe(0);
  });
});
