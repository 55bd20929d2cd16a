/**
 * Goal: the generator's CPU line reports cores and event-loop use, and flags a saturated generator
 * and an already busy machine. Method: format fixed samples; measure a short busy loop for real.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CpuSample, formatCpu, startCpuMeter } from './cpu.js';

const sample = (over: Partial<CpuSample>): CpuSample => ({
  wallMs: 1000,
  cpuMs: 1700,
  cores: 1.7,
  coresAvailable: 2,
  eventLoopUtilization: 0.5,
  loadAvg1mAtStart: 0.3,
  ...over,
});

test('formatCpu: plain, generator-bound, starved, busy machine', () => {
  assert.equal(formatCpu(sample({})), '1.70 cores of 2, event loop 50% busy');
  assert.equal(
    formatCpu(sample({ eventLoopUtilization: 0.97 })),
    '1.70 cores of 2, event loop 97% busy (generator-bound!)',
  );
  assert.equal(
    formatCpu(sample({ eventLoopUtilization: 0.97, cores: 0.4 })),
    '0.40 cores of 2, event loop 97% busy (generator short of CPU: cores are busy)',
  );
  assert.equal(
    formatCpu(sample({ loadAvg1mAtStart: 10.16 })),
    '1.70 cores of 2, event loop 50% busy; machine busy before the run (load 10.2 on 2 cores)',
  );
});

test('startCpuMeter measures a busy loop as CPU and event-loop time', () => {
  const m = startCpuMeter();
  const until = performance.now() + 50;
  let x = 0;
  while (performance.now() < until) x++;
  const s = m.stop();
  assert.ok(x > 0);
  assert.ok(s.wallMs >= 50);
  assert.ok(s.cpuMs > 0, `cpuMs ${s.cpuMs}`);
  assert.ok(s.eventLoopUtilization > 0.5, `elu ${s.eventLoopUtilization}`);
  assert.ok(s.coresAvailable >= 1);
});
