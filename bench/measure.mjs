// How the bench runs and times a child. A job is { cmd, args, env, cwd, input, output?, status?, says? }:
// stdin is `input` opened as a regular file (as qmail-local hands vdeliver the queue file), fd 1 is
// `output` opened for reading when given (qmail-queue reads its envelope there), else a pipe; cwd is
// $HOME. The child must exit `status` (default 0) and, when `says` is given, print what it matches.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TIME = '/usr/bin/time';
export const RSS_METHOD = existsSync(TIME)
  ? `${TIME} -f %M (the child's ru_maxrss)`
  : 'VmHWM from /proc/<pid>/status, polled every 2 ms (a lower bound: the last poll before exit)';

function open(job) {
  return { stdin: openSync(job.input, 'r'), stdout: job.output ? openSync(job.output, 'r') : 'pipe' };
}

function close(fds) {
  closeSync(fds.stdin);
  if (typeof fds.stdout === 'number') closeSync(fds.stdout);
}

const failed = (job, status, out) => new Error(`${job.cmd} ${(job.args ?? []).join(' ')} exited ${status}: ${out}`.trim());

const TIMED = ['/bin/bash', fileURLToPath(new URL('timed.sh', import.meta.url))];
const SECONDS = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/;
const micros = (epochRealtime) => Number(epochRealtime.replace('.', '')); // bash prints 6 decimals

/**
 * One run through bench/timed.sh, waited for synchronously: { ms, cpu } (wall and user + system time
 * of the child, ms) and its stdout. Throws unless it exits as expected.
 */
export function timeRun(job) {
  const fds = open(job);
  try {
    const r = spawnSync(TIMED[0], [TIMED[1], job.cmd, ...(job.args ?? [])], { env: job.env, cwd: job.cwd, stdio: [fds.stdin, fds.stdout, 'pipe', 'pipe'] });
    const out = `${r.stdout ?? ''}${r.stderr}`;
    if (r.status !== (job.status ?? 0) || (job.says && !job.says.test(out))) throw failed(job, r.status ?? r.signal, out);
    const [, children, realtime] = r.output[3].toString().trim().split('\n');
    const [, um, us, sm, ss] = SECONDS.exec(children).map(Number);
    const [t0, t1] = realtime.split(' ').map(micros);
    return { ms: (t1 - t0) / 1000, cpu: (um * 60 + us + sm * 60 + ss) * 1000, stdout: r.stdout?.toString(), stderr: r.stderr.toString() };
  } finally {
    close(fds);
  }
}

/** One run, asynchronously (parallel workers, RSS polling); resolves with its wall time in ms. */
export function runAsync(job, onSpawn = () => {}) {
  const fds = open(job);
  const start = process.hrtime.bigint();
  const child = spawn(job.cmd, job.args ?? [], { env: job.env, cwd: job.cwd, stdio: [fds.stdin, fds.stdout, 'pipe'] });
  close(fds); // the child has its own copies
  onSpawn(child);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (status === 0) resolve(ms);
      else reject(failed(job, status ?? signal, out));
    });
  });
}

/**
 * One run's wall time (s), the child's peak RSS (KiB) by RSS_METHOD, and with /usr/bin/time its CPU
 * time (user + system, s: steadier than wall time on a disk with bursty fsyncs). `scratch` holds time's report.
 */
export async function timeBig(job, scratch) {
  if (existsSync(TIME)) {
    settle();
    const { ms } = timeRun({ ...job, cmd: TIME, args: ['-f', '%M %U %S', '-o', scratch, job.cmd, ...(job.args ?? [])] });
    const [rssKiB, user, system] = readFileSync(scratch, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    return { seconds: ms / 1000, rssKiB, cpu: user + system };
  }
  return timeOwnPeak(job);
}

/**
 * One run's wall time (s) and the peak RSS (KiB) of the child's own process, without its children's:
 * VmHWM, a high-water mark, polled every 2 ms, so only growth in its last 2 ms can be missed.
 */
export async function timeOwnPeak(job) {
  settle();
  let rssKiB = 0;
  let timer;
  const ms = await runAsync(job, (child) => {
    timer = setInterval(() => {
      try {
        rssKiB = Math.max(rssKiB, Number(/VmHWM:\s*(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]));
      } catch {
        /* exiting */
      }
    }, 2);
  }).finally(() => clearInterval(timer));
  return { seconds: ms / 1000, rssKiB };
}

/**
 * Untimed, before a big run: write back whatever is dirty (the generated messages, the last run's
 * deletion), so another run's writeback does not land in this one.
 */
const settle = () => spawnSync('sync');

/** `workers` concurrent loops of `each` sequential runs; the wall time of the whole in seconds. */
export async function timeParallel(job, workers, each) {
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < each; i++) await runAsync(job);
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Nearest-rank percentile. */
export function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
}
