import { foldText } from './library-text.js';

/** A unit an entry has progress on, as its progress row remembers it. */
export interface FromUnit {
  unitId: string;
  unitNumber?: number;
  unitTitle?: string;
}

/** A unit of the source an entry moves to. */
export interface ToUnit {
  unitId: string;
  number?: number;
  title: string;
}

export interface UnitMatch {
  /** old unit id -> new unit id */
  mapping: Map<string, string>;
  /** old unit ids no target unit matched */
  unmatched: string[];
}

/**
 * Matches the units of an entry's old source to those of its new one, for moveEntry: by number
 * first (several target units with that number: the one with the same title, else the first),
 * then by title for units where either side has no number. Each target unit is used at most once,
 * so two old units never land on one new unit.
 */
export function matchUnits(from: readonly FromUnit[], to: readonly ToUnit[]): UnitMatch {
  const used = new Set<number>();
  const mapping = new Map<string, string>();
  const byNumber = new Map<number, number[]>();
  const byTitle = new Map<string, number[]>();
  to.forEach((unit, index) => {
    if (unit.number !== undefined) byNumber.set(unit.number, [...(byNumber.get(unit.number) ?? []), index]);
    const title = foldText(unit.title);
    byTitle.set(title, [...(byTitle.get(title) ?? []), index]);
  });
  const take = (index: number | undefined, unit: FromUnit): boolean => {
    if (index === undefined) return false;
    used.add(index);
    mapping.set(unit.unitId, (to[index] as ToUnit).unitId);
    return true;
  };

  const pending: FromUnit[] = [];
  const seen = new Set<string>();
  for (const unit of from) {
    if (seen.has(unit.unitId)) continue;
    seen.add(unit.unitId);
    const candidates = (unit.unitNumber === undefined ? [] : (byNumber.get(unit.unitNumber) ?? [])).filter(
      (i) => !used.has(i),
    );
    if (candidates.length === 0) {
      pending.push(unit);
      continue;
    }
    const title = unit.unitTitle === undefined ? undefined : foldText(unit.unitTitle);
    take(candidates.find((i) => foldText((to[i] as ToUnit).title) === title) ?? candidates[0], unit);
  }

  // titles only where a number is missing on one side: two numbered units with different numbers differ
  const unmatched: string[] = [];
  for (const unit of pending) {
    const title = unit.unitTitle === undefined ? '' : foldText(unit.unitTitle);
    const candidates = title === '' ? [] : (byTitle.get(title) ?? []);
    const index = candidates.find(
      (i) => !used.has(i) && (unit.unitNumber === undefined || (to[i] as ToUnit).number === undefined),
    );
    if (!take(index, unit)) unmatched.push(unit.unitId);
  }
  return { mapping, unmatched };
}
