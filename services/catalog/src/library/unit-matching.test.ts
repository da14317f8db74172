import { describe, expect, it } from 'vitest';
import { matchUnits } from './unit-matching.js';

describe('matchUnits', () => {
  it('matches by number, exactly, including fractional numbers', () => {
    const { mapping, unmatched } = matchUnits(
      [
        { unitId: 'a1', unitNumber: 1 },
        { unitId: 'a1.5', unitNumber: 1.5 },
        { unitId: 'a3', unitNumber: 3 },
      ],
      [
        { unitId: 'b1', number: 1, title: 'Chapter 1' },
        { unitId: 'b1.5', number: 1.5, title: 'Extra' },
        { unitId: 'b2', number: 2, title: 'Chapter 2' },
      ],
    );
    expect([...mapping]).toEqual([
      ['a1', 'b1'],
      ['a1.5', 'b1.5'],
    ]);
    expect(unmatched).toEqual(['a3']);
  });

  it('prefers the target with the same title among several with one number, else the first', () => {
    const to = [
      { unitId: 'b5-raw', number: 5, title: 'Ch. 5 (raw)' },
      { unitId: 'b5', number: 5, title: 'The  Storm' },
      { unitId: 'b5-alt', number: 5, title: 'Alt' },
    ];
    expect([...matchUnits([{ unitId: 'a5', unitNumber: 5, unitTitle: 'the storm' }], to).mapping]).toEqual([
      ['a5', 'b5'],
    ]);
    expect([...matchUnits([{ unitId: 'a5', unitNumber: 5, unitTitle: 'Other' }], to).mapping]).toEqual([
      ['a5', 'b5-raw'],
    ]);
  });

  it('uses each target unit at most once', () => {
    const { mapping, unmatched } = matchUnits(
      [
        { unitId: 'a', unitNumber: 1 },
        { unitId: 'b', unitNumber: 1 },
        { unitId: 'c', unitNumber: 1 },
      ],
      [
        { unitId: 'x', number: 1, title: 'One' },
        { unitId: 'y', number: 1, title: 'One again' },
      ],
    );
    expect([...mapping]).toEqual([
      ['a', 'x'],
      ['b', 'y'],
    ]);
    expect(unmatched).toEqual(['c']);
  });

  it('matches by normalised title where numbers are missing', () => {
    const { mapping, unmatched } = matchUnits(
      [
        { unitId: 'a-pilot', unitTitle: '  PILOT  episode ' },
        { unitId: 'a-full', unitTitle: 'Ｆｉｎａｌｅ' },
        { unitId: 'a-numbered', unitNumber: 4, unitTitle: 'Four' },
        { unitId: 'a-none' },
      ],
      [
        { unitId: 'b-pilot', title: 'Pilot Episode' },
        { unitId: 'b-finale', title: 'finale' },
        { unitId: 'b-four', title: 'four' },
      ],
    );
    expect([...mapping]).toEqual([
      ['a-pilot', 'b-pilot'],
      ['a-full', 'b-finale'],
      ['a-numbered', 'b-four'],
    ]);
    expect(unmatched).toEqual(['a-none']);
  });

  it('does not match by title two units whose numbers differ', () => {
    const { mapping, unmatched } = matchUnits(
      [{ unitId: 'a', unitNumber: 2, unitTitle: 'Oneshot' }],
      [{ unitId: 'b', number: 1, title: 'Oneshot' }],
    );
    expect(mapping.size).toBe(0);
    expect(unmatched).toEqual(['a']);
  });

  it('lets a number match take precedence over an earlier title match', () => {
    const { mapping } = matchUnits(
      [
        { unitId: 'untitled', unitTitle: 'Chapter 1' },
        { unitId: 'numbered', unitNumber: 1 },
      ],
      [{ unitId: 'b1', number: 1, title: 'Chapter 1' }],
    );
    expect([...mapping]).toEqual([['numbered', 'b1']]);
  });

  it('matches nothing against an empty target', () => {
    expect(matchUnits([{ unitId: 'a', unitNumber: 1 }], [])).toEqual({ mapping: new Map(), unmatched: ['a'] });
  });
});
