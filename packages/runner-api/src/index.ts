export {
  clip,
  MAX_PLUGIN_TEXT_CHARS,
  PluginCallError,
  type PluginCallErrorKind,
  PluginLoadError,
  retryAfterSeconds,
  type SourceErrorVariant,
  sourceErrorMessage,
  sourceErrorText,
} from './errors.js';
export { ARG_LIMITS, MAX_PLUGIN_CURSOR_BYTES, SOURCE_OPS, type SourceOp, type SourceOpArgs } from './ops.js';
export type { HealthState, SourceHealth } from './source-health.js';
export type {
  LoadRequest,
  PackageSource,
  SourceCall,
  SourceCallOptions,
  SourceOpResults,
  SourceRunner,
} from './source-runner.js';
