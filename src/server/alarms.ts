/**
 * Alarms, as etcd's alarm store: (member id, alarm type) pairs raised and cleared through the log,
 * so every member agrees; persisted as MVCC auxiliary records in the entry's write txn. While a
 * NOSPACE alarm is active, writes that add data are refused ("database space exceeded") until an
 * operator compacts, defragments and disarms it. While CORRUPT is active (corrupt-check.ts), writes,
 * compactions and lease grants/revokes are refused ("corrupt cluster") until it is disarmed.
 */
import type { MvccStore } from '../mvcc/index.js';
import { type AlarmMember, AlarmType } from '../proto/etcdserverpb/rpc.js';

const PREFIX = Buffer.from('alarm/');

function keyOf(a: AlarmMember): Buffer {
  const k = Buffer.alloc(PREFIX.length + 12);
  PREFIX.copy(k, 0);
  k.writeBigUInt64BE(a.memberID, PREFIX.length);
  k.writeInt32BE(a.alarm, PREFIX.length + 8);
  return k;
}

export class Alarms {
  private readonly active: AlarmMember[] = [];

  constructor(private readonly store: MvccStore) {
    for (const { key } of store.auxRecords(PREFIX)) {
      this.active.push({
        memberID: key.readBigUInt64BE(PREFIX.length),
        alarm: key.readInt32BE(PREFIX.length + 8),
      });
    }
  }

  /** Active alarms of `type` (NONE = all). */
  list(type: AlarmType = AlarmType.NONE): AlarmMember[] {
    return this.active.filter((a) => type === AlarmType.NONE || a.alarm === type).map((a) => ({ ...a }));
  }

  get noSpace(): boolean {
    return this.active.some((a) => a.alarm === AlarmType.NOSPACE);
  }

  /** CORRUPT is active: writes, compactions and lease grants/revokes are refused (etcd's applierV3Corrupt). */
  get corrupt(): boolean {
    return this.active.some((a) => a.alarm === AlarmType.CORRUPT);
  }

  /** Raises an alarm (inside the entry's write txn); returns it, or undefined if it was already active. */
  activate(a: AlarmMember): AlarmMember | undefined {
    if (this.active.some((x) => x.memberID === a.memberID && x.alarm === a.alarm)) return undefined;
    this.active.push({ ...a });
    this.store.setAux(keyOf(a), Buffer.alloc(0));
    return { ...a };
  }

  /** Clears an alarm (inside the entry's write txn); returns it, or undefined if it was not active. */
  deactivate(a: AlarmMember): AlarmMember | undefined {
    const i = this.active.findIndex((x) => x.memberID === a.memberID && x.alarm === a.alarm);
    if (i < 0) return undefined;
    this.active.splice(i, 1);
    this.store.setAux(keyOf(a), undefined);
    return { ...a };
  }
}

/** How etcd 3.4 prints an alarm in Status.errors (gogoproto's compact text: non-zero fields only). */
export function alarmText(a: AlarmMember): string {
  const name = AlarmType[a.alarm] ?? String(a.alarm);
  return `${a.memberID !== 0n ? `memberID:${a.memberID} ` : ''}${a.alarm !== 0 ? `alarm:${name} ` : ''}`;
}
