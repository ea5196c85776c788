import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import { makeEvents, streamName } from '../contract/event-store.contract';
import { ServiceProcess } from '../support/service-process';

const execFileAsync = promisify(execFile);
const CLI = resolve('bin/snapledger');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `snapledger verify` as an auditor runs it: the real CLI, on the SQLite log of a data
 * directory, before and after someone with the file edited it.
 */
describe('snapledger verify (the real CLI on a real SQLite log)', () => {
  let dir: string;
  let file: string;

  async function verify(...args: string[]): Promise<Run> {
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, 'verify', ...args], {
        env: { ...process.env, SNAPLEDGER_DATA_DIR: dir },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  function tamper(sql: string): void {
    const db = new Database(file);
    try {
      for (const t of ['events_no_update', 'events_no_delete']) db.exec(`DROP TRIGGER ${t}`);
      db.exec(sql);
    } finally {
      db.close();
    }
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapledger-verify-'));
    file = join(dir, 'events.sqlite');
    const store = SqliteEventStore.open(file);
    for (let i = 0; i < 30; i += 1) await store.append(streamName(), makeEvents(100), 'no_stream');
    await store.close();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says the chain is whole, exports the head, and checks it later', async () => {
    const whole = await verify();
    expect(whole.code).toBe(0);
    expect(whole.stdout).toMatch(
      /^log verified: 3,000 events, the hash chain is whole; head 3000:[0-9a-f]{64}\n$/,
    );
    const exported = await verify('--export-head');
    expect(exported.code).toBe(0);
    const head = exported.stdout.trim();
    expect(head).toMatch(/^3000:[0-9a-f]{64}$/);
    expect(whole.stdout).toContain(head);
    expect((await verify('--expect-head', head)).code).toBe(0);

    tamper('DELETE FROM events WHERE position > 2990');
    const truncated = await verify('--expect-head', head);
    expect(truncated.code).toBe(9);
    expect(truncated.stdout).toContain(
      'log BROKEN at position 2991 (truncated): the log ends at position 2990, but the head you kept is at position 3000',
    );
  });

  it('exits 9 and names the position of an edited row, also as JSON', async () => {
    tamper(`UPDATE events SET data = '{"i":1000}' WHERE position = 1234`);
    const broken = await verify();
    expect(broken.code).toBe(9);
    expect(broken.stdout).toMatch(/^log BROKEN at position 1234 \(hash-mismatch\): position 1234 /);
    expect(broken.stdout).toContain('1,233 events before it verified, up to 1233:');
    const json = await verify('--json');
    expect(json.code).toBe(9);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      verified: 1233,
      lastPosition: 3000,
      break: { kind: 'hash-mismatch', position: 1234 },
    });
  });

  it('refuses a malformed head with a usage error and reads nothing', async () => {
    const bad = await verify('--expect-head', 'not-a-head');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--expect-head: a head is <position>:<64 hex digits>');
    expect(bad.stdout).toBe('');
  });

  it('the running service reports the same break at GET /v1/log/verification, with the detail for admins only', async () => {
    const service = await ServiceProcess.create({ dataDir: dir });
    try {
      await service.start();
      const member = await service.createToken('p-verify', 'u-member', 'member');
      const reader = await service.createToken('p-verify', 'u-reader', 'reader');
      type State = {
        verification: {
          running: unknown;
          last: {
            ok: boolean;
            verified: number;
            head: string | null;
            break: { position: number; kind: string; detail: string | null } | null;
            source: string;
            requested_by: string | null;
            finished_at: string;
          } | null;
        };
      };
      const before = await service.api<State>('GET', '/v1/log/verification', { token: member });
      expect(before.status).toBe(200);
      expect(before.body.verification.last).toBeNull();
      expect((await service.api('GET', '/v1/log/verification', { token: null })).status).toBe(401);
      expect((await service.api('POST', '/v1/log/verification', { token: reader })).status).toBe(
        403,
      );

      // Edited while the service runs, with the file's own access.
      tamper(`UPDATE events SET data = '{"i":77}' WHERE position = 1500`);
      const started = await service.api<State>('POST', '/v1/log/verification', { token: member });
      expect(started.status).toBe(202);
      const settled = async () => {
        const { body } = await service.api<State>('GET', '/v1/log/verification', {
          token: member,
        });
        return body.verification.running === null ? body : null;
      };
      await expect.poll(settled, { timeout: 10_000, interval: 50 }).not.toBeNull();
      const state = (await settled())!;
      expect(state.verification.last).toMatchObject({
        ok: false,
        verified: 1499,
        break: { position: 1500, kind: 'hash-mismatch', detail: null },
        source: 'service',
        // who asked is a user of any project: admins only
        requested_by: null,
      });
      const asAdmin = await service.api<State>('GET', '/v1/log/verification');
      expect(asAdmin.body.verification.last?.break?.detail).toMatch(/^position 1500 \(stream /);
      expect(asAdmin.body.verification.last?.requested_by).toBe('u-member');
      // The CLI, reading the file itself, agrees, and its walk becomes the last one.
      const cli = await verify('--json');
      expect(JSON.parse(cli.stdout)).toMatchObject({ verified: 1499, break: { position: 1500 } });
      expect(asAdmin.body.verification.last?.head).toBe(
        `1499:${(JSON.parse(cli.stdout) as { head: { hash: string } }).head.hash}`,
      );
      const afterCli = (await service.api<State>('GET', '/v1/log/verification')).body;
      expect(afterCli.verification.last).toMatchObject({
        ok: false,
        verified: 1499,
        break: { position: 1500, kind: 'hash-mismatch' },
        source: 'cli',
        requested_by: null,
        head: asAdmin.body.verification.last?.head,
      });
      expect(afterCli.verification.last!.finished_at > state.verification.last!.finished_at).toBe(
        true,
      );

      // The last walk outlives a restart of the service.
      await service.stop();
      await service.start();
      const restarted = await service.api<State>('GET', '/v1/log/verification', { token: member });
      expect(restarted.body.verification).toMatchObject({
        running: null,
        last: { ok: false, verified: 1499, source: 'cli', break: { position: 1500 } },
      });
    } finally {
      await service.stop();
    }
  });
});
