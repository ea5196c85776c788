import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows as query, startPostgres, type PostgresServer } from '../support/postgres-server';
import { ServiceProcess, type SnapshotRow } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

describe('SNAPLEDGER_DATABASE_URL: the log, the views and the service state in PostgreSQL', () => {
  let server: PostgresServer;
  let url: string;
  let service: ServiceProcess;
  const domains: TestDomain[] = [];

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase();
    service = await ServiceProcess.create();
  });

  afterAll(async () => {
    await service?.dispose();
    for (const d of domains) await d.destroy();
    await server?.stop();
  });

  it('takes a snapshot with every event, view row and token in PostgreSQL, and nothing in SQLite files', async () => {
    await service.start({ SNAPLEDGER_DATABASE_URL: url, SNAPLEDGER_LIVE_SNAPSHOT: 'off' });
    const domain = await createTestDomain({ name: 'pg', start: true });
    domains.push(domain);
    expect(await service.syncInstances()).toContain(domain.uuid);

    const res = await service.api<{ image_id: string }>(
      'POST',
      `/v2.1/servers/${domain.uuid}/action`,
      {
        body: { createImage: { name: 'in-postgres' } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      },
    );
    expect(res.status).toBe(202);
    const imageId = res.body.image_id;
    const row = await service.waitForSnapshot(domain.uuid, imageId);
    expect(row.result).toBe('active');
    expect(row.mode).toBe('cold');
    expect(row.steps.map((s) => s.step)).toEqual([
      'begin',
      'plan',
      'save',
      'extract',
      'restore',
      'upload',
    ]);
    const image = await service.api<{ status: string }>('GET', `/v2/images/${imageId}`);
    expect(image.body.status).toBe('active');

    // The log is in PostgreSQL, in order, with the snapshot's whole story.
    const events = await query<{ type: string; position: string }>(
      url,
      'SELECT type, position FROM events WHERE stream_name IN ($1, $2) ORDER BY position',
      [`image-${imageId}`, `snapshot-${imageId}`],
    );
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('ImageReserved');
    for (const type of ['SnapshotPlanned', 'DomainSaveStarted', 'ImageExtracted', 'Uploaded'])
      expect(types).toContain(type);
    // The views and the saga's process table are there too, each in its own schema.
    const history = await query<{ result: string }>(
      url,
      'SELECT result FROM views.snapshot_history WHERE "imageId" = $1',
      [imageId],
    );
    expect(history).toEqual([{ result: 'active' }]);
    const processes = await query<{ n: string }>(
      url,
      'SELECT count(*) AS n FROM service_state.snapshot_process',
    );
    expect(Number(processes[0]?.n)).toBeGreaterThanOrEqual(1);
    for (const file of ['events.sqlite', 'views.sqlite', 'state.sqlite', 'backup-rotation.sqlite'])
      expect(existsSync(join(service.dataDir, file))).toBe(false);
  });

  it('rebuilds the views from the PostgreSQL log to the same answers', async () => {
    const before = await service.api<{ snapshots: SnapshotRow[] }>(
      'GET',
      `/v1/instances/${domains[0]!.uuid}/snapshots`,
    );
    // While the service keeps the views, a rebuild from another machine's data directory
    // (where no service lock stops it) is refused by the views lease, and changes nothing.
    const elsewhere = mkdtempSync(join(tmpdir(), 'snapledger-rebuild-'));
    try {
      const refused = await service.cli(['projections', 'rebuild'], {
        SNAPLEDGER_DATABASE_URL: url,
        SNAPLEDGER_DATA_DIR: elsewhere,
      });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('an API process keeps the views');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
    const still = await service.api<{ snapshots: SnapshotRow[] }>(
      'GET',
      `/v1/instances/${domains[0]!.uuid}/snapshots`,
    );
    expect(still.body.snapshots).toEqual(before.body.snapshots);

    await service.stop();
    const rebuild = await service.cli(['projections', 'rebuild'], {
      SNAPLEDGER_DATABASE_URL: url,
    });
    expect(rebuild.code).toBe(0);
    await service.start({ SNAPLEDGER_DATABASE_URL: url, SNAPLEDGER_LIVE_SNAPSHOT: 'off' });
    const after = await service.api<{ snapshots: SnapshotRow[] }>(
      'GET',
      `/v1/instances/${domains[0]!.uuid}/snapshots`,
    );
    expect(after.status).toBe(200);
    expect(after.body.snapshots).toEqual(before.body.snapshots);
    expect(after.body.snapshots).toHaveLength(1);
  });

  it('refuses to start on a database another release wrote, with one clear line, writing nothing', async () => {
    const other = await server.createDatabase();
    await query(
      other,
      'CREATE TABLE snapledger_schema (component text PRIMARY KEY, version integer NOT NULL)',
    );
    await query(other, "INSERT INTO snapledger_schema VALUES ('event-store', 99)");
    const refused = await ServiceProcess.create();
    try {
      const result = await refused.cli(['serve'], { SNAPLEDGER_DATABASE_URL: other });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^snapledger: PostgreSQL event store at postgres:\/\/snapledger@127\.0\.0\.1:\d+\/\w+: the database has event-store schema version 99; this snapledger writes version 4 and cannot use a newer one\n$/,
      );
      const tables = await query<{ table_name: string }>(
        other,
        "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
      );
      expect(tables.map((t) => t.table_name)).toEqual(['snapledger_schema']);
    } finally {
      await refused.dispose();
    }
  });

  it('refuses a URL that is not PostgreSQL, and an unreachable server, before touching anything', async () => {
    const refused = await ServiceProcess.create();
    try {
      const wrong = await refused.cli(['serve'], {
        SNAPLEDGER_DATABASE_URL: 'mysql://root:hunter2@127.0.0.1/snap',
      });
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toContain('SNAPLEDGER_DATABASE_URL must be a postgres:// URL');
      expect(wrong.stderr).not.toContain('hunter2');
      const down = await refused.cli(['serve'], {
        SNAPLEDGER_DATABASE_URL: `postgres://snapledger:hunter2@127.0.0.1:${server.port + 1}/x`,
      });
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/PostgreSQL event store at .*: connect ECONNREFUSED/);
      expect(down.stderr).not.toContain('hunter2');
      expect(existsSync(join(refused.dataDir, 'admin-token'))).toBe(false);
    } finally {
      await refused.dispose();
    }
  });
});
