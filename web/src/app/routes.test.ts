import { describe, expect, it } from 'vitest';
import { landingPath, opens, ROUTES } from './routes';

const route = (path: string) => ROUTES.find((r) => r.path === path)!;

describe('where a caller lands and what they may open', () => {
  it('lands a scoped advisor on their tasks and a branch manager on the team, others on the menu', () => {
    expect(landingPath({ permissions: ['customer:read', 'task:work'], scoped: true })).toBe('/workbench/tasks');
    expect(landingPath({ permissions: ['customer:read', 'task:work', 'task:assign'], scoped: true })).toBe('/workbench/team');
    expect(landingPath({ permissions: ['status:read', 'task:work'], scoped: false })).toBe('/overview');
    expect(landingPath({ permissions: [], scoped: false })).toBe('/approvals');
  });

  it('opens a page to scoped callers only where its data narrows to them', () => {
    expect(opens(route('/journeys/:name/live'), { permissions: ['journey:read'], scoped: true })).toBe(true);
    expect(opens(route('/journeys/:name/edit'), { permissions: ['journey:read'], scoped: true })).toBe(false);
    expect(opens(route('/approvals'), { permissions: [], scoped: false })).toBe(true);
  });

  it('opens the content pages with the permissions the API enforces', () => {
    const operator = { permissions: ['template:read', 'template:write', 'channel:read', 'customer:read'], scoped: false };
    expect(['/content/templates', '/content/templates/new', '/content/channels', '/content/policies'].every((p) => opens(route(p), operator))).toBe(true);
    expect(opens(route('/content/templates/new'), { permissions: ['template:read'], scoped: false })).toBe(false);
    expect(opens(route('/content/channels'), { permissions: ['template:read'], scoped: false })).toBe(false);
  });
});
