/** The bottom wire layer: gRPC status codes and the one exact (code, message) error table. */
export * from './errors.js';
export * from './status.js';
