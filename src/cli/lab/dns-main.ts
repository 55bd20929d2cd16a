/**
 * The lab's DNS server as a process (run inside the lab's node namespace by `tsetcd lab kube`):
 * `node dns-main.js HOST PORT`. Reads record sets from stdin, one JSON object a line
 * (`{"grpc-svc":["10.244.0.11",...],...}`), writes `{"listening":port}` once, then one JSON
 * QueryLog a line to stdout per query. Exits when stdin closes (its parent is gone).
 */
import { createInterface } from 'node:readline';
import { ClusterDns } from './dns.js';

const [host = '0.0.0.0', portText = '53'] = process.argv.slice(2);
const dns = new ClusterDns((log) => process.stdout.write(`${JSON.stringify(log)}\n`));
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() !== '') dns.setRecords(JSON.parse(line) as Record<string, string[]>);
  })
  .on('close', () => {
    void dns.close().then(() => process.exit(0));
  });
const port = await dns.listen(host, Number(portText));
process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
