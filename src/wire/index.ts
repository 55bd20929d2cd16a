/** The bottom wire layer: gRPC status codes, the one exact (code, message) error table, gRPC framing. */
export * from './errors.js';
export * from './grpc-frame.js';
export * from './status.js';
