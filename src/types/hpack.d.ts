/** The part of hpack.js (RFC 7541) that pkg/h2-authority uses; the package ships no types. */
declare module 'hpack.js' {
  interface HeaderField {
    name: string;
    value: string;
    neverIndex: boolean;
  }
  interface Decompressor {
    write(chunk: Buffer): void;
    execute(): void;
    read(): HeaderField | null;
  }
  interface Compressor {
    write(headers: { name: string; value: string; huffman?: boolean; neverIndex?: boolean }[]): void;
    read(): Buffer;
  }
  const hpack: {
    decompressor: { create(opts: { table: { size: number } }): Decompressor };
    compressor: { create(opts: { table: { size: number } }): Compressor };
  };
  export default hpack;
}
