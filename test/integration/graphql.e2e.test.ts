/**
 * The GraphQL API of a real `snapledger serve`, with real QEMU domains and a real snapshot
 * taken through the `createImage` mutation: data, Relay paging, errors, auth, limits, and
 * project isolation over every root query field.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

interface GraphqlResponse<T> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: { code?: string } }[];
}

const suffix = randomUUID().slice(0, 8);
const PROJECT_A = `gql-a-${suffix}`;
const PROJECT_B = `gql-b-${suffix}`;

describe('GraphQL API against a real service', () => {
  let service: ServiceProcess;
  const domains: TestDomain[] = [];
  let tokenA: string;
  let tokenB: string;
  let domainA: TestDomain;
  let domainB: TestDomain;
  let imageA: string;
  let imageB: string;

  async function gql<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
    token: string | null = tokenA,
  ): Promise<GraphqlResponse<T>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers['x-auth-token'] = token;
    const res = await fetch(`${service.baseUrl}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as Omit<GraphqlResponse<T>, 'status'>) };
  }

  const tokenFor = (project: string, user: string) => service.createToken(project, user);

  async function snapshotThroughMutation(instanceId: string, name: string, token: string) {
    const res = await gql<{ createImage: { id: string; status: string; instanceId: string } }>(
      `mutation Snap($id: ID!, $name: String!, $meta: JSONObject) {
        createImage(instanceId: $id, name: $name, metadata: $meta) { id status instanceId name properties }
      }`,
      { id: instanceId, name, meta: { purpose: 'graphql-e2e' } },
      token,
    );
    expect(res.errors).toBeUndefined();
    const image = res.data!.createImage;
    expect(image.instanceId).toBe(instanceId);
    expect(['queued', 'saving', 'active']).toContain(image.status);
    // Wait through GraphQL until the snapshot is done.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const poll = await gql<{ image: { status: string } | null }>(
        'query($id: ID!) { image(id: $id) { status } }',
        { id: image.id },
        token,
      );
      const status = poll.data?.image?.status;
      if (status === 'active') break;
      if (status === 'killed' || Date.now() > deadline)
        throw new Error(`snapshot ${image.id} ended ${status}:\n${service.logs.slice(-3000)}`);
      await delay(250);
    }
    // ...and until the instance's task state is released.
    await service.waitForSnapshot(instanceId, image.id);
    return image.id;
  }

  beforeAll(async () => {
    service = await ServiceProcess.create();
    await service.start();
    for (const [project, user] of [
      [PROJECT_A, 'alice'],
      [PROJECT_B, 'bob'],
    ] as const) {
      domains.push(
        await createTestDomain({
          name: 'gql',
          owner: { projectId: project, userId: user, via: 'nova' },
        }),
      );
    }
    [domainA, domainB] = domains as [TestDomain, TestDomain];
    const known = await service.syncInstances();
    expect(known).toEqual(expect.arrayContaining([domainA.uuid, domainB.uuid]));
    tokenA = await tokenFor(PROJECT_A, 'alice');
    tokenB = await tokenFor(PROJECT_B, 'bob');
    imageA = await snapshotThroughMutation(domainA.uuid, 'gql-a', tokenA);
    imageB = await snapshotThroughMutation(domainB.uuid, 'gql-b', tokenB);
  });

  afterAll(async () => {
    await service?.dispose();
    for (const d of domains) await d.destroy();
  });

  it('answers the nested instance query with the snapshot, its action and its audit trail', async () => {
    const res = await gql<{
      instance: {
        id: string;
        projectId: string;
        taskState: string | null;
        host: string | null;
        snapshots: {
          edges: {
            node: {
              imageId: string;
              mode: string;
              result: string;
              steps: { step: string; durationMs: number }[];
              downtimeMs: number;
              image: { status: string; properties: Record<string, string> };
            };
          }[];
        };
        actions: {
          edges: { node: { action: string; events: { event: string; result: string }[] } }[];
        };
        auditLog: {
          edges: { node: { type: string; imageId: string | null; actorUserId: string } }[];
        };
      };
    }>(
      `query($id: ID!) { instance(id: $id) {
        id projectId taskState host
        snapshots { edges { node { imageId mode result downtimeMs steps { step durationMs }
          image { status properties } } } }
        actions { edges { node { action events { event result } } } }
        auditLog(first: 100) { edges { node { type imageId actorUserId } } }
      } }`,
      { id: domainA.uuid },
    );
    expect(res.errors).toBeUndefined();
    const instance = res.data!.instance;
    expect(instance).toMatchObject({ id: domainA.uuid, projectId: PROJECT_A, taskState: null });
    expect(instance.host).toBeNull(); // admins only
    const [snapshot] = instance.snapshots.edges.map((e) => e.node);
    expect(snapshot).toMatchObject({
      imageId: imageA,
      mode: 'offline',
      result: 'active',
      downtimeMs: 0,
    });
    expect(snapshot!.steps.map((s) => s.step)).toEqual(['begin', 'plan', 'extract', 'upload']);
    expect(snapshot!.image.status).toBe('active');
    expect(snapshot!.image.properties).toMatchObject({
      image_type: 'snapshot',
      instance_uuid: domainA.uuid,
      purpose: 'graphql-e2e',
    });
    const [action] = instance.actions.edges.map((e) => e.node);
    expect(action!.action).toBe('createImage');
    expect(action!.events.length).toBeGreaterThan(0);
    expect(action!.events.every((e) => e.result === 'Success')).toBe(true);
    const types = instance.auditLog.edges.map((e) => e.node.type);
    expect(types).toEqual(
      expect.arrayContaining(['InstanceRegistered', 'ImageReserved', 'Uploaded']),
    );

    const lists = await gql<{
      images: { edges: { node: { id: string; instance: { id: string } } }[] };
      snapshotHistory: { edges: { node: { imageId: string } }[] };
    }>(
      `query($id: ID!) {
        images(filter: { instanceId: $id }) { edges { node { id instance { id } } } }
        snapshotHistory(filter: { instanceId: $id }) { edges { node { imageId } } }
      }`,
      { id: domainA.uuid },
    );
    expect(lists.data!.images.edges.map((e) => [e.node.id, e.node.instance.id])).toEqual([
      [imageA, domainA.uuid],
    ]);
    expect(lists.data!.snapshotHistory.edges.map((e) => e.node.imageId)).toEqual([imageA]);
  });

  it('walks a list exactly once with first: 1 and after: endCursor', async () => {
    const all = await gql<{ auditLog: { edges: { node: { position: number } }[] } }>(
      '{ auditLog(first: 100) { edges { node { position } } pageInfo { hasNextPage } } }',
    );
    const expected = all.data!.auditLog.edges.map((e) => e.node.position);
    expect(expected.length).toBeGreaterThan(3);

    const walked: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 200; page += 1) {
      const res: GraphqlResponse<{
        auditLog: {
          edges: { cursor: string; node: { position: number } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        };
      }> = await gql(
        `query($after: String) { auditLog(first: 1, after: $after) {
          edges { cursor node { position } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      const { edges, pageInfo } = res.data!.auditLog;
      expect(edges).toHaveLength(1);
      expect(pageInfo.endCursor).toBe(edges[0]!.cursor);
      walked.push(edges[0]!.node.position);
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    expect(walked).toEqual(expected);
  });

  it('turns a validation error of the mutation into BAD_USER_INPUT and appends nothing', async () => {
    const before = service.events().length;
    const res = await gql(
      'mutation($id: ID!) { createImage(instanceId: $id, name: " leading space") { id } }',
      { id: domainA.uuid },
    );
    expect(res.status).toBe(200);
    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/invalid 'name'/);
    const badMetadata = await gql(
      'mutation($id: ID!) { createImage(instanceId: $id, name: "ok", metadata: { key: 5 }) { id } }',
      { id: domainA.uuid },
    );
    expect(badMetadata.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(service.events().length).toBe(before);
    // Another project's instance is not found, never forbidden.
    const foreign = await gql(
      'mutation($id: ID!) { createImage(instanceId: $id, name: "x") { id } }',
      {
        id: domainB.uuid,
      },
    );
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(service.events().length).toBe(before);
  });

  it('refuses a request without a valid token with 401, introspection included', async () => {
    for (const token of [null, 'not-a-token']) {
      const res = await gql('{ __schema { queryType { name } } }', {}, token);
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.data).toBeUndefined();
    }
  });

  it('refuses too deep and too costly queries with a 400 before running them', async () => {
    const deep = await gql(
      `query($id: ID!) { image(id: $id) { instance { snapshots { edges { node {
        image { instance { snapshots { edges { node { imageId } } } } } } } } } } }`,
      { id: imageA },
    );
    expect(deep.status).toBe(400);
    expect(deep.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_DEEP');
    expect(deep.data).toBeUndefined();

    const costly = await gql(
      `{ instances(first: 100) { edges { node {
        snapshots(first: 100) { edges { node { imageId steps { step } } } } } } } }`,
    );
    expect(costly.status).toBe(400);
    expect(costly.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');

    const tooMany = await gql('{ images(first: 1000) { edges { cursor } } }');
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    // Longer than MAX_QUERY_TOKENS: refused at the limit, before parsing further.
    const overLimit = await gql(`{ ${'__typename '.repeat(2_500)}}`);
    expect(overLimit.status).toBe(400);
    expect(overLimit.errors?.[0]?.message).toMatch(
      /^Syntax Error: Document contains more th[a-z]+ 2000 tokens/,
    );
    // 50,000 nested lists: a syntax error (said as nesting too deeply when the parser's stack
    // runs out before the token limit is reached), never the stack overflow's own words.
    const nested = await gql(
      `{ images(filter: { name: ${'['.repeat(50_000)}${']'.repeat(50_000)} }) { edges { cursor } } }`,
    );
    expect(nested.status).toBe(400);
    expect(nested.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(nested.errors?.[0]?.message).toMatch(
      /^Syntax Error: (the document nests too deeply|Document contains more th[a-z]+ 2000 tokens)/,
    );
  });

  it('answers a mutation whose metadata is nested 20,000 lists deep with BAD_USER_INPUT', async () => {
    const before = service.events().length;
    // Written as text: JSON.stringify of it would overflow this process's stack too.
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const query =
      'mutation($id: ID!, $m: JSONObject) { createImage(instanceId: $id, name: "d", metadata: $m) { id } }';
    const res = await fetch(`${service.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': tokenA },
      body: `{"query":${JSON.stringify(query)},"variables":{"id":"${domainA.uuid}","m":{"key":${deep}}}}`,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Omit<GraphqlResponse<unknown>, 'status'>;
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toContain('(a value nested too deeply to show)');
    expect(service.events().length).toBe(before);
  });

  it("never shows project B's data to project A, through any root query field", async () => {
    // Every root field of the schema must have a probe here: a new field fails this test
    // until it is covered.
    const probes: Record<string, { query: string; variables?: Record<string, unknown> }> = {
      instances: {
        query: `{ instances(first: 100, filter: { allProjects: true, projectId: "${PROJECT_B}" }) {
          edges { node { id projectId snapshots { edges { node { imageId } } }
            actions { edges { node { requestId } } } auditLog { edges { node { position } } } } } } }`,
      },
      instance: {
        query: `query($id: ID!) { instance(id: $id) { id snapshots { edges { node { imageId } } } } }`,
        variables: { id: domainB.uuid },
      },
      images: {
        query: `{ images(first: 100, filter: { owner: "${PROJECT_B}", visibility: "all" }) { edges { node { id } } }
          all: images(first: 100) { edges { node { id projectId instance { id } } } } }`,
      },
      image: {
        query: `query($id: ID!) { image(id: $id) { id instance { id } } }`,
        variables: { id: imageB },
      },
      snapshotHistory: {
        query: `query($id: ID!) {
          byInstance: snapshotHistory(first: 100, filter: { instanceId: $id }) { edges { node { imageId } } }
          byProject: snapshotHistory(first: 100, filter: { projectId: "${PROJECT_B}" }) { edges { node { imageId } } }
          all: snapshotHistory(first: 100) { edges { node { imageId projectId image { id } } } } }`,
        variables: { id: domainB.uuid },
      },
      auditLog: {
        query: `query($id: ID!, $image: ID!) {
          byInstance: auditLog(first: 100, filter: { instanceId: $id }) { edges { node { position } } }
          byImage: auditLog(first: 100, filter: { imageId: $image }) { edges { node { position } } }
          byProject: auditLog(first: 100, filter: { projectId: "${PROJECT_B}" }) { edges { node { position } } }
          all: auditLog(first: 100) { edges { node { position projectId actorProjectId data } } } }`,
        variables: { id: domainB.uuid, image: imageB },
      },
    };

    const schema = await gql<{ __schema: { queryType: { fields: { name: string }[] } } }>(
      '{ __schema { queryType { fields { name } } } }',
    );
    const rootFields = schema.data!.__schema.queryType.fields.map((f) => f.name).sort();
    expect(rootFields).toEqual(Object.keys(probes).sort());

    const secrets = [domainB.uuid, imageB, PROJECT_B];
    for (const [field, probe] of Object.entries(probes)) {
      // B can see its own data with the same probe, so the probe could find it...
      const asB = await gql(probe.query, probe.variables, tokenB);
      expect(asB.errors, field).toBeUndefined();
      expect(
        secrets.some((s) => JSON.stringify(asB.data).includes(s)),
        field,
      ).toBe(true);
      // ...and A gets nothing of it: empty lists and nulls.
      const asA = await gql(probe.query, probe.variables, tokenA);
      expect(asA.errors, field).toBeUndefined();
      const text = JSON.stringify(asA.data);
      for (const secret of secrets)
        expect(text.includes(secret), `${field}: ${secret}`).toBe(false);
    }
    const nulls = await gql<{ instance: unknown; image: unknown }>(
      'query($i: ID!, $m: ID!) { instance(id: $i) { id } image(id: $m) { id } }',
      { i: domainB.uuid, m: imageB },
    );
    expect(nulls.data).toEqual({ instance: null, image: null });
  });
});
