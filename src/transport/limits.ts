/**
 * Every bound and timing constant of the transport, named once. Options of `Transport.start` may
 * override some of them per instance (documented there); these are the defaults.
 */

/**
 * Messages waiting to be written to one peer. etcd's stream buffer holds 4096 messages too; beyond
 * it a message is dropped and the peer reported unreachable, so Raft slows down (probe state)
 * rather than the leader buffering without bound.
 */
export const QUEUE_MESSAGES_MAX = 4096;

/** Encoded bytes waiting for one peer; a second bound so 4096 huge MsgApps cannot pin gigabytes. */
export const QUEUE_BYTES_MAX = 256 * 1024 * 1024;

/**
 * Largest frame (one encoded message) a receiver accepts on a message stream. A MsgApp is bounded
 * by raft's `maxSizePerMsg` (1 MiB) plus one entry, and an entry by the request size limit
 * (1.5 MiB by default in etcd), so 64 MiB leaves ample room while a corrupt length cannot make the
 * receiver allocate gigabytes. A larger frame ends that stream with `frame-too-large`.
 */
export const FRAME_BYTES_MAX = 64 * 1024 * 1024;

/** Bytes of the length prefix of a frame: an unsigned 32-bit big-endian integer. */
export const FRAME_HEADER_BYTES = 4;

/** Upper bound on the bytes gathered into one write on a message stream (queued messages batch). */
export const BATCH_BYTES_MAX = 1024 * 1024;

/** Size of each write of snapshot data on a snapshot request. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

/** Largest snapshot a receiver accepts as a stream (etcd's snapshotLimitByte is 1 TB). */
export const SNAPSHOT_STREAM_BYTES_MAX = 2 ** 40;

/** Largest snapshot a receiver gathers into one buffer (when it asked for buffered snapshots). */
export const SNAPSHOT_BUFFER_BYTES_MAX = 1024 * 1024 * 1024;

/** Largest encoded MsgSnap header (the message without its data) a receiver accepts. */
export const SNAPSHOT_HEADER_BYTES_MAX = 16 * 1024 * 1024;

/** How long a snapshot send waits for a connection to its peer before failing (ms). */
export const SNAPSHOT_CONNECT_WAIT_MS = 5000;

/** Reconnect backoff: first delay, cap, and growth factor per failed attempt (ms). */
export const RECONNECT_BACKOFF_MS_MIN = 50;
export const RECONNECT_BACKOFF_MS_MAX = 2000;
export const RECONNECT_BACKOFF_FACTOR = 2;

/**
 * Liveness: an HTTP/2 PING every interval; a connection whose previous PING is still unanswered at
 * the next tick is torn down (a silent peer, e.g. behind a dropped link, is detected in <= 2 ticks).
 */
export const PING_INTERVAL_MS = 2000;

/** Error bodies read from a rejecting peer are cut to this many bytes. */
export const ERROR_BODY_BYTES_MAX = 4096;

/**
 * HTTP/2 flow-control window a receiver grants per stream and per connection. The default 64 KiB
 * would cap a loopback stream at one window per round trip; 16 MiB keeps the pipe full.
 */
export const H2_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * Memory (MiB) one HTTP/2 session may hold before refusing new streams; above Node's default 10
 * so a full window of messages does not make a snapshot request on the same connection fail.
 */
export const H2_SESSION_MEMORY_MB = 64;
