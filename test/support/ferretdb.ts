// The tests import it from here; the implementation is plain JavaScript so the benchmarks share it.
export { type FerretDb, startFerretDb } from './ferretdb.mjs';
