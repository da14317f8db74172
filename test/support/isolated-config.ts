/**
 * Runs before every test file (vitest.config.ts `setupFiles`): AWASM_CONFIG_DIR points at a fresh
 * temporary folder, so no test, nor a server or CLI it starts, reads or writes the real
 * ~/.config/awasm. A test that checks what a server saved gives it its own folder (auth.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'awasm-config-'));
process.env.AWASM_CONFIG_DIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
