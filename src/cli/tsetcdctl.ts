/** Entry point of the `tsetcdctl` binary. */
export async function main(argv: string[]): Promise<void> {
  console.log('tsetcdctl: not built yet', argv);
}
