import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { BackupJobOptions, BackupJobs } from './backup-job.port';
import { virshFailureError, VirshCommandError } from './virsh-errors';

const QUERY_TIMEOUT_MS = 30_000;
/**
 * How often a running backup job is asked whether it has ended. virsh has no way to wait for
 * a backup job (backup-begin returns when it starts), and `virsh event --event job-completed`
 * cannot be known to listen before the job starts, so its end is polled.
 */
const JOB_POLL_MS = 50;
/** Names we create: `snapledger-<uuid>`; refused otherwise, so they are safe in XML. */
const CHECKPOINT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TARGET = /^[a-z][a-z0-9]{1,15}$/;
const NO_CHECKPOINT = /checkpoint not found|no domain checkpoint with matching name/i;
const NO_JOB = /no job is active|not active/i;

/** The BackupJobs port over `virsh -c <uri>`, with argument arrays only. */
export class VirshBackupJobs implements BackupJobs {
  constructor(private readonly uri: string) {
    if (!uri || uri.startsWith('-')) throw new Error(`invalid libvirt URI: ${JSON.stringify(uri)}`);
  }

  async checkpoints(domain: string): Promise<string[]> {
    const stdout = await this.virsh(['checkpoint-list', '--domain', domain, '--name'], domain);
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
  }

  async pendingBytes(domain: string, checkpoint: string): Promise<number> {
    if (!CHECKPOINT.test(checkpoint)) throw new Error(`invalid checkpoint name: ${checkpoint}`);
    const xml = await this.virsh(
      [
        'checkpoint-dumpxml',
        '--domain',
        domain,
        '--checkpointname',
        checkpoint,
        '--size',
        '--no-domain',
      ],
      domain,
    );
    const sizes = [...xml.matchAll(/\bsize='(\d+)'/g)].map((m) => Number(m[1]));
    if (sizes.length === 0) throw new Error(`libvirt gave no size for checkpoint ${checkpoint}`);
    return sizes.reduce((a, b) => a + b, 0);
  }

  async backup(domain: string, options: BackupJobOptions): Promise<void> {
    const { target, destination, sinceCheckpoint, checkpoint } = options;
    if (!TARGET.test(target)) throw new Error(`invalid disk target: ${JSON.stringify(target)}`);
    if (!isAbsolute(destination) || /[<>&"'\0]/.test(destination)) {
      throw new Error(`invalid backup destination: ${JSON.stringify(destination)}`);
    }
    for (const name of [checkpoint, sinceCheckpoint]) {
      if (name !== null && !CHECKPOINT.test(name)) {
        throw new Error(`invalid checkpoint name: ${JSON.stringify(name)}`);
      }
    }
    const incremental =
      sinceCheckpoint === null ? '' : `<incremental>${sinceCheckpoint}</incremental>`;
    const backupXml =
      `<domainbackup mode='push'>${incremental}<disks>` +
      `<disk name='${target}' type='file'><target file='${destination}'/><driver type='qcow2'/></disk>` +
      `</disks></domainbackup>`;
    const checkpointXml =
      `<domaincheckpoint><name>${checkpoint}</name><disks>` +
      `<disk name='${target}' checkpoint='bitmap'/></disks></domaincheckpoint>`;
    // virsh reads both documents from files (its --backupxml takes a file name).
    const dir = await mkdtemp(join(tmpdir(), 'snapledger-backup-'));
    try {
      const backupFile = join(dir, 'backup.xml');
      const checkpointFile = join(dir, 'checkpoint.xml');
      await writeFile(backupFile, backupXml, { mode: 0o600 });
      await writeFile(checkpointFile, checkpointXml, { mode: 0o600 });
      await this.virsh(
        [
          'backup-begin',
          '--domain',
          domain,
          '--backupxml',
          backupFile,
          '--checkpointxml',
          checkpointFile,
          '--reuse-external',
        ],
        domain,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    try {
      await this.waitForJob(domain, options.timeoutMs);
    } catch (error) {
      await this.abortBackup(domain).catch(() => false);
      throw error;
    }
  }

  async abortBackup(domain: string): Promise<boolean> {
    // Only a backup job: a save or a migration of the domain is not ours to stop.
    const report = await this.virsh(['domjobinfo', '--domain', domain], domain);
    const running = (fieldOf(report, 'job type') ?? 'none').toLowerCase() !== 'none';
    if (!running || (fieldOf(report, 'operation') ?? '').toLowerCase() !== 'backup') return false;
    try {
      await this.virsh(['domjobabort', '--domain', domain], domain);
      return true;
    } catch (error) {
      if (error instanceof VirshCommandError && NO_JOB.test(error.stderr)) return false;
      throw error;
    }
  }

  async deleteCheckpoint(domain: string, checkpoint: string): Promise<boolean> {
    if (!CHECKPOINT.test(checkpoint)) throw new Error(`invalid checkpoint name: ${checkpoint}`);
    try {
      await this.virsh(
        ['checkpoint-delete', '--domain', domain, '--checkpointname', checkpoint],
        domain,
      );
      return true;
    } catch (error) {
      if (error instanceof VirshCommandError && NO_CHECKPOINT.test(error.stderr)) return false;
      throw error;
    }
  }

  /** Until no job runs; then the completed job's report says whether it succeeded. */
  private async waitForJob(domain: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (await this.jobRunning(domain)) {
      if (Date.now() > deadline) {
        throw new Error(`the backup job of ${domain} did not finish within ${timeoutMs} ms`);
      }
      await sleep(JOB_POLL_MS);
    }
    const report = await this.virsh(['domjobinfo', '--domain', domain, '--completed'], domain);
    const type = fieldOf(report, 'job type');
    if (type?.toLowerCase() !== 'completed') {
      const message = fieldOf(report, 'error message') ?? report.trim();
      throw new Error(`the backup job of ${domain} ended ${type ?? 'unknown'}: ${message}`);
    }
  }

  private async jobRunning(domain: string): Promise<boolean> {
    const report = await this.virsh(['domjobinfo', '--domain', domain], domain);
    const type = fieldOf(report, 'job type');
    return type !== null && type.toLowerCase() !== 'none';
  }

  private async virsh(args: readonly string[], domain: string): Promise<string> {
    const result = await execa('virsh', ['-q', '-c', this.uri, ...args], {
      timeout: QUERY_TIMEOUT_MS,
      reject: false,
      stdin: 'ignore',
      env: { LC_ALL: 'C', LANG: 'C', LANGUAGE: '' },
    });
    if (!result.failed) return result.stdout;
    throw virshFailureError({
      command: args[0],
      domain,
      stderr: result.stderr,
      timedOut: result.timedOut,
      timeoutMs: QUERY_TIMEOUT_MS,
      exitCode: result.exitCode,
      description: result.originalMessage || result.shortMessage,
    });
  }
}

/** A `Name: value` field of virsh domjobinfo (the name compared lower-cased); null when absent. */
function fieldOf(report: string, name: string): string | null {
  for (const line of report.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) {
      return line.slice(colon + 1).trim();
    }
  }
  return null;
}
