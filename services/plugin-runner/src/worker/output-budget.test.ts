import { describe, expect, it } from 'vitest';
import type { WorkerMessage } from './messages.mjs';
import { OutputBudget } from './output-budget.mjs';

const enc = (s: string) => new TextEncoder().encode(s);

describe('OutputBudget', () => {
  it('forwards log messages and stdout lines until the budget ends, then counts what it drops', () => {
    const sent: WorkerMessage[] = [];
    const budget = new OutputBudget(300, (m) => sent.push(m));
    budget.log('info', 'hello');
    budget.output('stdout', enc('partial '));
    expect(sent).toEqual([{ type: 'log', level: 'info', message: 'hello' }]);
    budget.output('stdout', enc('line\n'));
    expect(sent[1]).toEqual({ type: 'output', stream: 'stdout', text: 'partial line\n' });
    budget.log('info', 'x'.repeat(100));
    expect(sent).toHaveLength(2);
    expect(budget.dropped).toBe(100);
    budget.startCall();
    expect(budget.dropped).toBe(0);
    budget.log('warn', 'again');
    expect(sent[2]).toEqual({ type: 'log', level: 'warn', message: 'again' });
  });

  it('charges a fixed cost per write, so a flood of empty writes ends the budget too', () => {
    const sent: WorkerMessage[] = [];
    const budget = new OutputBudget(1000, (m) => sent.push(m));
    for (let i = 0; i < 100; i++) budget.output('stderr', new Uint8Array(0));
    budget.output('stderr', enc('late\n'));
    budget.flush();
    expect(sent).toEqual([]);
    expect(budget.dropped).toBe(5);
  });

  it('flushes what is buffered at the end of a call', () => {
    const sent: WorkerMessage[] = [];
    const budget = new OutputBudget(1000, (m) => sent.push(m));
    budget.output('stdout', enc('no newline'));
    budget.output('stderr', enc('err'));
    budget.flush();
    expect(sent).toEqual([
      { type: 'output', stream: 'stdout', text: 'no newline' },
      { type: 'output', stream: 'stderr', text: 'err' },
    ]);
  });
});
