import { describe, expect, it } from 'vitest';
import { faultsByPlace, insertVariable, lineDiff, markBanned, templateLines } from './text';

describe('lineDiff', () => {
  it('keeps common lines and marks what was removed and added', () => {
    expect(lineDiff('a\nb\nc', 'a\nx\nc')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'removed', text: 'b' },
      { kind: 'added', text: 'x' },
      { kind: 'same', text: 'c' },
    ]);
  });

  it('reads back both sides: the kept and removed lines are the old text, the kept and added the new', () => {
    const cases: [string, string][] = [
      ['', 'a'],
      ['a\nb', ''],
      ['x\ny\nz\ny', 'y\nz\nx\ny\nq'],
      ['same', 'same'],
    ];
    for (const [before, after] of cases) {
      const lines = lineDiff(before, after);
      expect(lines.filter((l) => l.kind !== 'added').map((l) => l.text).join('\n')).toBe(before);
      expect(lines.filter((l) => l.kind !== 'removed').map((l) => l.text).join('\n')).toBe(after);
    }
  });

  it('shows identical texts as unchanged only', () => {
    expect(lineDiff('a\nb', 'a\nb').every((l) => l.kind === 'same')).toBe(true);
  });
});

describe('templateLines', () => {
  it('puts each field and each param on its own named line, without the name', () => {
    expect(templateLines({ name: 'n', body: 'hi', title: 'T', params: { a: '1' } })).toBe('title: T\nbody: hi\nparams.a: 1');
  });
});

describe('faultsByPlace', () => {
  it('files each fault under the field it names and keeps the others whole', () => {
    const { byPlace, general } = faultsByPlace([
      "body: banned word '稳赚' (金融营销宣传禁用语)",
      'params.fund: unknown variable product.nope',
      'provider_template_id: a sms template needs the gateway\'s template id',
      'sandbox: access to _x is refused',
      'no place at all',
    ]);
    expect(byPlace.body).toEqual(["banned word '稳赚' (金融营销宣传禁用语)"]);
    expect(byPlace.params).toEqual(['fund: unknown variable product.nope']);
    expect(byPlace.provider_template_id).toHaveLength(1);
    expect(general).toEqual(['sandbox: access to _x is refused', 'no place at all']);
  });
});

describe('markBanned', () => {
  it('marks every banned word, the longest where two overlap', () => {
    expect(markBanned('稳赚不赔，也稳赚', ['稳赚', '稳赚不赔'])).toEqual([
      { text: '稳赚不赔', banned: true },
      { text: '，也', banned: false },
      { text: '稳赚', banned: true },
    ]);
    expect(markBanned('clean', ['x', ''])).toEqual([{ text: 'clean', banned: false }]);
  });
});

describe('insertVariable', () => {
  it('replaces the selection and puts the cursor after the variable', () => {
    expect(insertVariable('Hi !', 3, 3, 'customer.name')).toEqual({ text: 'Hi {{ customer.name }}!', cursor: 22 });
    expect(insertVariable('Hi X!', 3, 4, 'x')).toEqual({ text: 'Hi {{ x }}!', cursor: 10 });
    expect(insertVariable('', 5, 9, 'x').text).toBe('{{ x }}');
  });
});
