/**
 * The form titles and category names compare in: NFKC so full-width and composed letters match
 * their plain forms, case-folded, whitespace collapsed. Both stores sort and search on it, so
 * they order titles the same way.
 */
export function foldText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}
