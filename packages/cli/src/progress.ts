/** Where progress goes: a bar redrawn in place on a terminal, a few plain lines otherwise. */
export interface ProgressSink {
  /** true: stderr is a terminal, redraw one line */
  tty: boolean;
  /** raw text, no newline added (terminal mode) */
  write: (text: string) => void;
  /** one whole line (plain mode) */
  line: (text: string) => void;
}

export interface Progress {
  update(done: number, total?: number): void;
  finish(): void;
}

const WIDTH = 28;

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * A progress bar for an upload or download on stderr. On a terminal: `label [#####.....] 45% 1.2/2.6 MiB`
 * redrawn in place; elsewhere (pipes, logs, tests) one plain line at start and at every quarter.
 */
export function progress(sink: ProgressSink, label: string, initialTotal: number): Progress {
  let total = initialTotal;
  let lastShown = -1;
  let finished = false;
  const percent = (done: number) => (total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0);
  let done = 0;
  const render = () => {
    const p = percent(done);
    if (sink.tty) {
      if (p === lastShown) return;
      lastShown = p;
      const filled = Math.round((p / 100) * WIDTH);
      sink.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(p).padStart(3)}% ${size(done)}/${size(total)}`,
      );
    } else {
      const step = Math.floor(p / 25) * 25;
      if (step === lastShown) return;
      lastShown = step;
      sink.line(`${label}: ${step}% (${done} of ${total} bytes)`);
    }
  };
  return {
    update(value, newTotal) {
      if (finished) return;
      if (newTotal !== undefined && newTotal > 0) total = newTotal;
      done = value;
      render();
    },
    finish() {
      if (finished) return;
      finished = true;
      if (sink.tty) sink.write('\n');
    },
  };
}
