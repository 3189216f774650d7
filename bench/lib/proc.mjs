// Process facts from /proc (Linux): CPU time of another process with
// nanosecond resolution (schedstat), child processes by name, load average.
import { existsSync, readFileSync, readdirSync } from 'node:fs';

/**
 * CPU time (ns) one thread has run so far (/proc/<pid>/task/<tid>/schedstat);
 * by default the process's main thread, which in workerd is the thread that
 * runs the isolate (JS and wasm).
 */
export function threadCpuNs(pid, tid = pid) {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
}

/** CPU time (ns) a process has run so far, summed over all its threads (/proc/<pid>/task/* /schedstat). */
export function cpuNs(pid) {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended between readdir and read: its time is gone from the sum either way
    }
  }
  return total;
}

function statOf(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  return { pid: Number(pid), comm, ppid: Number(fields[1]) };
}

/** Descendant processes of `root` (default: this process), optionally only those named `comm`. */
export function descendants(root = process.pid, comm) {
  const all = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      all.push(statOf(name));
    } catch {
      // gone
    }
  }
  const found = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return comm === undefined ? found : found.filter((p) => p.comm === comm);
}

/** The one workerd process started (directly or not) by this process since `known` (a Set of pids). */
export function newWorkerdPid(known = new Set()) {
  const fresh = descendants(process.pid, 'workerd').filter((p) => !known.has(p.pid));
  if (fresh.length !== 1) throw new Error(`bench: expected one new workerd process, found ${fresh.length}`);
  return fresh[0].pid;
}

export function isAlive(pid) {
  return existsSync(`/proc/${pid}`);
}

export const loadAvg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

/**
 * Wait until the 1-minute load average is below `threshold` (polling every
 * 5 s, at most `maxSecs`). Returns { waitedSecs, load, quiet }.
 */
export async function waitQuiet({ threshold = 1.0, maxSecs = 180, log = () => {} } = {}) {
  const start = Date.now();
  let load = loadAvg();
  let said = false;
  while (load[0] >= threshold && (Date.now() - start) / 1000 < maxSecs) {
    if (!said) {
      log(`waiting for the 1-min load average to drop below ${threshold} (now ${load[0]}; at most ${maxSecs} s)`);
      said = true;
    }
    await new Promise((r) => setTimeout(r, 5000));
    load = loadAvg();
  }
  return { waitedSecs: Math.round((Date.now() - start) / 1000), load, quiet: load[0] < threshold };
}

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const mhz = /^cpu MHz\s*:\s*(.*)$/m.exec(cpuinfo)?.[1];
  const cpus = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const memKb = Number(/^MemTotal:\s*(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  return { model, mhz: mhz ? Number(mhz) : undefined, cpus, memGb: Math.round(memKb / 1048576 * 10) / 10, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() };
}
