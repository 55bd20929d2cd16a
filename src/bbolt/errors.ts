/**
 * The bbolt error catalog: one class, every message naming the file and what is wrong with it, so
 * a refused restore or status says which file to look at ("bbolt: /backup/db: page 17: ...").
 */

/** A file is not a bbolt database, or is a damaged or truncated one. */
export class BboltError extends Error {
  override name = 'BboltError';
  /** The file the error is about. */
  readonly file: string;

  constructor(file: string, what: string) {
    super(`bbolt: ${file}: ${what}`);
    this.file = file;
  }
}
