/**
 * watch: the member's watch hub (see README.md). Other layers import only from here.
 */
export { WatchError } from './errors.js';
export {
  DEFAULT_WATCH_HUB_OPTIONS,
  WatchHub,
  type WatchHubOptions,
  type WatchHubStats,
  type WatchSource,
  type WatchStore,
} from './watch-hub.js';
export {
  fragments,
  PROGRESS_WATCH_ID,
  REFUSED_WATCH_ID,
  type WatchSink,
  WatchStream,
} from './watch-stream.js';
