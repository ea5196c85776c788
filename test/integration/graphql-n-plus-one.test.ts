/**
 * The nested fields of `instances` (snapshots, actions, auditLog, and each snapshot's image)
 * are batched per request by DataLoaders: resolving them for 10 instances runs exactly as
 * many SQL statements on the views database as for 2. Real Nest app, real SQLite files,
 * events appended through the real event store and createImage handler, projected by the
 * real projection runner; no libvirt needed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorFilter } from '../../src/api/api-error.filter';
import { TokenService } from '../../src/api/auth/token.service';
import { requestIdMiddleware } from '../../src/api/request-context.middleware';
import { AppModule } from '../../src/app.module';
import {
  CreateImageCommand,
  type CreateImageResult,
} from '../../src/commands/create-image.command';
import { EventAppender } from '../../src/commands/event-appender';
import { loadConfig } from '../../src/config/snapledger.config';
import { instanceStream } from '../../src/events';
import type { ProjectionRunner } from '../../src/projections/projection-runner';
import { PROJECTION_RUNNER, VIEWS_DB } from '../../src/di-tokens';

const INSTANCES = 10;
const PROJECT = `nplus1-${randomUUID().slice(0, 8)}`;

const NESTED_QUERY = `query Nested($first: Int!) {
  instances(first: $first) {
    edges { node {
      id name
      snapshots(first: 5) { edges { node { imageId result steps { step } image { id status } } } }
      actions(first: 5) { edges { node { action requestId events { event } } } }
      auditLog(first: 10) { edges { node { position type actorRoles } } pageInfo { hasNextPage } }
    } }
  }
}`;

interface NestedResult {
  data: {
    instances: {
      edges: {
        node: {
          id: string;
          snapshots: { edges: { node: { imageId: string; image: { id: string } | null } }[] };
          actions: { edges: { node: { action: string } }[] };
          auditLog: { edges: { node: { type: string } }[] };
        };
      }[];
    };
  };
  errors?: unknown[];
}

describe('GraphQL nested fields without N+1 queries', () => {
  let app: INestApplication;
  let runner: ProjectionRunner;
  let dataDir: string;
  let url: string;
  let token: string;
  const statements: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'snapledger-nplus1-'));
    const config = loadConfig({ SNAPLEDGER_DATA_DIR: dataDir, SNAPLEDGER_HOST: '127.0.0.1' });
    const logger = pino({ level: 'silent' });
    app = await NestFactory.create(AppModule.forRoot(config, logger, { http: true, role: null }), {
      logger: false,
      bodyParser: false,
    });
    app.use(requestIdMiddleware);
    (app as unknown as { useBodyParser(type: string, o: object): void }).useBodyParser('json', {
      limit: '1mb',
    });
    app.useGlobalFilters(new ApiErrorFilter(logger));
    await app.listen(0, '127.0.0.1');
    url = `${await app.getUrl()}/graphql`.replace('[::1]', '127.0.0.1');

    // Count every statement the views database runs (TypeORM logs each one to its logger).
    const views = app.get<DataSource>(VIEWS_DB);
    const logger0 = views.logger;
    Object.assign(views, {
      logger: Object.assign(Object.create(logger0) as object, {
        logQuery: (query: string) => statements.push(query),
      }),
    });

    runner = app.get(PROJECTION_RUNNER);
    await runner.start();
    const member = { userId: 'nplus1-user', projectId: PROJECT, roles: ['member'] };
    token = (await app.get(TokenService).issue(member)).token;

    const appender = app.get(EventAppender);
    const commands = app.get(CommandBus);
    let position = 0;
    for (let i = 0; i < INSTANCES; i += 1) {
      const instanceId = randomUUID();
      const context = { actor: member, requestId: `req-${randomUUID()}` };
      const cause = {
        ...context,
        correlationId: context.requestId,
        causationId: context.requestId,
      };
      await appender.append(
        instanceStream(instanceId),
        [
          {
            type: 'InstanceRegistered',
            data: {
              instanceId,
              domainName: `nplus1-${i}`,
              projectId: PROJECT,
              userId: member.userId,
              ownerSource: 'snapledger',
              diskPath: null,
              diskFormat: 'qcow2',
              powerState: 'shutdown',
              vmState: 'stopped',
              vcpus: 1,
              memoryMiB: 128,
              host: 'test-host',
            },
          },
        ],
        'no_stream',
        cause,
      );
      // The real createImage handler: task state taken, image reserved (no saga runs here).
      const result = await commands.execute<CreateImageCommand, CreateImageResult>(
        new CreateImageCommand(instanceId, { createImage: { name: `snap-${i}` } }, context),
      );
      position = Math.max(position, result.position);
    }
    expect(await runner.waitFor(position, 30_000)).toBe(true);
  });

  afterAll(async () => {
    await runner?.stop();
    await app?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function nested(first: number): Promise<{ body: NestedResult; statements: string[] }> {
    statements.length = 0;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ query: NESTED_QUERY, variables: { first } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as NestedResult;
    expect(body.errors).toBeUndefined();
    return { body, statements: [...statements] };
  }

  function expectFullyResolved(body: NestedResult, instances: number): void {
    const edges = body.data.instances.edges;
    expect(edges).toHaveLength(instances);
    for (const { node } of edges) {
      expect(node.snapshots.edges).toHaveLength(1);
      expect(node.snapshots.edges[0]!.node.image?.id).toBe(node.snapshots.edges[0]!.node.imageId);
      expect(node.actions.edges.map((e) => e.node.action)).toEqual(['createImage']);
      expect(node.auditLog.edges.map((e) => e.node.type)).toEqual(
        expect.arrayContaining(['InstanceRegistered', 'TaskStateChanged', 'ImageReserved']),
      );
    }
  }

  it('runs the same number of statements for 2 and for 10 instances', async () => {
    const few = await nested(2);
    expectFullyResolved(few.body, 2);
    const many = await nested(INSTANCES);
    expectFullyResolved(many.body, INSTANCES);

    // A per-instance query for any nested list would add at least 8 statements here.
    expect(many.statements.length).toBe(few.statements.length);
    // One list query, then one batch per nested relation (actions take 3: instances, actions,
    // events); nothing proportional to the instances.
    expect(many.statements.length).toBeLessThanOrEqual(8);
    // Each nested relation was loaded with one IN (...) query for all instances.
    const batched = many.statements.filter((s) => /IN \(\?(, \?){9}\)/.test(s));
    expect(batched.length).toBeGreaterThanOrEqual(4);
  });
});
