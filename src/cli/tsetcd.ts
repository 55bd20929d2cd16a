/** Entry point of the `tsetcd` binary. */
export async function main(argv: string[]): Promise<void> {
  console.log('tsetcd: not built yet', argv);
}
