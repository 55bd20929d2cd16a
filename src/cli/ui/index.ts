/** Terminal output shared by the CLIs: etcdctl-style tables and a TTY-aware progress bar. */
export {
  formatEta,
  ProgressBar,
  type ProgressOptions,
  type ProgressStream,
  progressIntervalMs,
} from './progress.js';
export { type Align, displayWidth, pad, renderTable, type TableSpec } from './table.js';
