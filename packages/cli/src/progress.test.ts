import { describe, expect, it } from 'vitest';
import { progress } from './progress.js';

function sink(tty: boolean) {
  const written: string[] = [];
  const lines: string[] = [];
  return { tty, write: (t: string) => written.push(t), line: (t: string) => lines.push(t), written, lines };
}

describe('progress', () => {
  it('prints a plain line at each quarter when stderr is not a terminal', () => {
    const s = sink(false);
    const bar = progress(s, 'uploading x', 1000);
    for (let done = 0; done <= 1000; done += 100) bar.update(done);
    bar.finish();
    expect(s.lines).toEqual([
      'uploading x: 0% (0 of 1000 bytes)',
      'uploading x: 25% (300 of 1000 bytes)',
      'uploading x: 50% (500 of 1000 bytes)',
      'uploading x: 75% (800 of 1000 bytes)',
      'uploading x: 100% (1000 of 1000 bytes)',
    ]);
    expect(s.written).toEqual([]);
  });

  it('redraws one line on a terminal and ends it', () => {
    const s = sink(true);
    const bar = progress(s, 'downloading', 2 * 1024 * 1024);
    bar.update(1024 * 1024);
    bar.update(1024 * 1024);
    bar.update(2 * 1024 * 1024);
    bar.finish();
    expect(s.written).toHaveLength(3);
    expect(s.written[0]).toMatch(/^\rdownloading \[#{14}\.{14}\] {2}50% 1\.0 MiB\/2\.0 MiB$/);
    expect(s.written[1]).toContain('100%');
    expect(s.written[2]).toBe('\n');
    expect(s.lines).toEqual([]);
  });
});
