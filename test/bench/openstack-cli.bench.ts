/**
 * Wall time of `openstack server image create --wait` (Debian's OSC 6.0) against a plain curl
 * sequence doing the same work (POST createImage at 2.45, then poll GET /v2/images/{id} every
 * 0.2 s until active), on one small test domain and one snapledger service.
 *
 *   npm run build && npx vite-node test/bench/openstack-cli.bench.ts -- [--rounds N] [--running]
 *
 * (from source: the harness's ServiceProcess spawns bin/snapledger, which runs dist/).
 *
 * Also times `openstack server list`: the CLI's own start-up and discovery cost. Prints a
 * Markdown table on stdout. osc_lib's --wait polls every 5 s, which dominates the difference.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain } from '../support/test-domain';

/** The curl sequence, as one would type it; reads BASE, TOKEN, SERVER and NAME. */
export const CURL_SEQUENCE = `
id=$(curl -sf -X POST "$BASE/v2.1/servers/$SERVER/action" \\
  -H "X-Auth-Token: $TOKEN" -H 'OpenStack-API-Version: compute 2.45' \\
  -H 'Content-Type: application/json' -d "{\\"createImage\\": {\\"name\\": \\"$NAME\\"}}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["image_id"])')
until curl -sf "$BASE/v2/images/$id" -H "X-Auth-Token: $TOKEN" | grep -q '"status":"active"'; do
  sleep 0.2
done
echo "$id"
`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '3' }, running: { type: 'boolean' } },
  });
  const rounds = Number(values.rounds);
  const home = await mkdtemp(join(tmpdir(), 'snapledger-osc-bench-'));
  const domain = await createTestDomain({
    name: 'osc-bench',
    diskMiB: 16,
    dataMiB: 2,
    start: values.running === true,
  });
  const service = await ServiceProcess.create();
  const t0 = performance.now();
  const progress = (what: string) =>
    process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);
  try {
    await service.start();
    progress('service started');
    await service.api('POST', '/v1/admin/instances/sync');
    await writeFile(
      join(home, 'clouds.yaml'),
      [
        'clouds:',
        '  bench:',
        '    auth_type: admin_token',
        '    auth:',
        `      endpoint: ${service.baseUrl}/v2.1`,
        `      token: ${service.adminToken}`,
        `    image_endpoint_override: ${service.baseUrl}/image`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: home,
      OS_CLIENT_CONFIG_FILE: join(home, 'clouds.yaml'),
    };
    const osc = (args: string[]) =>
      execa('openstack', ['--os-cloud', 'bench', ...args], { env, extendEnv: false });
    const curl = (name: string) =>
      execa('bash', ['-c', CURL_SEQUENCE], {
        env: {
          ...env,
          BASE: service.baseUrl,
          TOKEN: service.adminToken,
          SERVER: domain.uuid,
          NAME: name,
        },
        extendEnv: false,
      });

    const rows: { osc: number; curl: number; list: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      const list = await timed(() => osc(['server', 'list', '-f', 'json']));
      const viaOsc = await timed(() =>
        osc(['server', 'image', 'create', '--name', `bench-osc-${i}`, '--wait', domain.uuid]),
      );
      const viaCurl = await timed(() => curl(`bench-curl-${i}`));
      rows.push({ osc: viaOsc.ms, curl: viaCurl.ms, list: list.ms });
      process.stderr.write(
        `round ${i + 1}: osc ${viaOsc.ms.toFixed(0)} ms, curl ${viaCurl.ms.toFixed(0)} ms\n`,
      );
    }
    const mode = values.running === true ? 'running (live)' : 'shut off (offline)';
    console.log(`| round | \`server image create --wait\` | curl sequence | \`server list\` |`);
    console.log('| --- | --- | --- | --- |');
    rows.forEach((r, i) =>
      console.log(
        `| ${i + 1} | ${(r.osc / 1000).toFixed(2)} s | ${(r.curl / 1000).toFixed(2)} s | ${(r.list / 1000).toFixed(2)} s |`,
      ),
    );
    console.log(
      `| median | ${(median(rows.map((r) => r.osc)) / 1000).toFixed(2)} s | ${(median(rows.map((r) => r.curl)) / 1000).toFixed(2)} s | ${(median(rows.map((r) => r.list)) / 1000).toFixed(2)} s |`,
    );
    console.log(`\nDomain: 16 MiB qcow2, 2 MiB of data, ${mode}.`);
  } finally {
    // Each clean-up runs even when another fails (e.g. a service that never started).
    await Promise.allSettled([service.dispose(), domain.destroy()]);
    await rm(home, { recursive: true, force: true });
    progress('cleaned up');
  }
}

// Exit explicitly: idle keep-alive sockets of the harness would hold the process open.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
