import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../support/browser';
import { ServiceProcess } from '../support/service-process';
import { createTestDomain, type TestDomain } from '../support/test-domain';

/** expect.poll gives up after 1 s by default; the page polls the service once a second. */
const POLL = { timeout: 30_000 };

interface AuditEntry {
  type: string;
  request_id: string | null;
  correlation_id: string | null;
  user_id: string | null;
}

/**
 * The review page at /ui/ in headless Debian Chromium, against a real service and a running
 * QEMU domain: a member signs in with a password, takes a snapshot from the page, watches
 * its progress bar reach active, opens the image's story and filters the audit log; the
 * log's verify status matches `snapledger verify --export-head`; a member of another
 * project sees none of it. Screenshots go to test-output/browser.
 */
describe('the review page in Chromium', () => {
  let service: ServiceProcess;
  let domain: TestDomain;
  let browser: Browser;
  let contexts: BrowserContext[] = [];
  const PASSWORD = 'ui-e2e-Pa55word';
  const SNAPSHOT = 'from-the-page';
  let imageId = '';

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    return page;
  }

  /** A new page with the member ui-alice signed in with her password. */
  async function signedInAsAlice(): Promise<Page> {
    const page = await newPage();
    await page.goto(`${service.baseUrl}/ui/`);
    const password = page.getByRole('form', { name: 'Sign in with a password' });
    await password.getByLabel('User').fill('ui-alice');
    await password.getByLabel('Password').fill(PASSWORD);
    await password.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('who').waitFor();
    return page;
  }

  beforeAll(async () => {
    [service, domain, browser] = await Promise.all([
      ServiceProcess.create(),
      createTestDomain({ name: 'ui', diskMiB: 16, dataMiB: 2, start: true }),
      launchChromium(),
    ]);
    await service.start();
    expect(await service.syncInstances()).toContain(domain.uuid);
    const made = await service.cli([
      'user',
      'create',
      '--name',
      'ui-alice',
      '--project',
      'default',
      '--role',
      'member',
      '--password',
      PASSWORD,
    ]);
    expect(made.code, made.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    contexts = [];
    await browser?.close();
    await service?.dispose();
    await domain?.destroy();
  });

  it('signs in, takes a snapshot from the page and follows its progress to active', async () => {
    const page = await newPage();
    await page.goto(`${service.baseUrl}/ui/`);
    const password = page.getByRole('form', { name: 'Sign in with a password' });
    await password.getByLabel('User').fill('ui-alice');
    await password.getByLabel('Password').fill('not-the-password');
    await password.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), POLL).toMatch(/authentication/i);

    await password.getByLabel('Password').fill(PASSWORD);
    await password.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('who').textContent(), POLL).toContain('ui-alice');

    const row = page.locator(`tr[data-instance="${domain.uuid}"]`);
    await expect.poll(() => row.textContent(), POLL).toContain(domain.name);
    expect(await row.locator('.state').textContent()).toBe('active');
    await screenshot(page, '01-instances');

    await row.getByRole('link', { name: domain.name }).click();
    await expect.poll(() => page.getByTestId('vm-state').textContent(), POLL).toBe('active');
    const form = page.getByRole('form', { name: 'Take a snapshot' });
    await form.getByLabel('Snapshot name').fill(SNAPSHOT);
    await form.getByRole('button', { name: 'Take snapshot' }).click();

    // The live bar shows up for the new image, then the row settles as active.
    const bar = page.locator('.progress[data-image]').first();
    await bar.waitFor();
    imageId = (await bar.getAttribute('data-image')) ?? '';
    expect(imageId).toMatch(/^[0-9a-f-]{36}$/);
    await screenshot(page, '02-snapshot-running');
    const settled = page.locator(`tr[data-image="${imageId}"][data-result="active"]`);
    await settled.waitFor({ timeout: 120_000 });

    // What the page shows is what the API says.
    const history = await service.api<{
      snapshots: { image_id: string; result: string; mode: string; steps: unknown[] }[];
    }>('GET', `/v1/instances/${domain.uuid}/snapshots`);
    const snapshot = history.body.snapshots.find((s) => s.image_id === imageId);
    expect(snapshot?.result).toBe('active');
    expect(await settled.locator('td').nth(1).textContent()).toBe(snapshot?.mode);
    await settled.locator('summary').click();
    expect(await settled.locator('.step-row').count()).toBe(snapshot?.steps.length);
    expect(snapshot?.steps.length).toBeGreaterThan(0);
    await screenshot(page, '03-snapshot-active');
  });

  it("opens the image's whole story: every event with its actor, request and correlation ids", async () => {
    expect(imageId).not.toBe('');
    const page = await signedInAsAlice();
    await page.goto(`${service.baseUrl}/ui/#/images/${imageId}`);
    await expect.poll(() => page.getByTestId('image-status').textContent(), POLL).toBe('active');

    const story = await service.api<{ audit: AuditEntry[] }>(
      'GET',
      `/v1/audit?image=${imageId}&order=asc&limit=1000`,
    );
    const rows = page.getByRole('table', { name: 'Image story' }).locator('tbody tr');
    await expect.poll(() => rows.count(), POLL).toBe(story.body.audit.length);
    const types = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-type')));
    expect(types).toEqual(story.body.audit.map((a) => a.type));
    expect(types).toContain('ImageReserved');
    expect(types).toContain('Uploaded');
    // The request that asked for it, by the member who clicked.
    const asked = story.body.audit[0]!;
    expect(asked.user_id).not.toBeNull();
    const firstRow = await rows.first().textContent();
    expect(firstRow).toContain(asked.request_id);
    expect(firstRow).toContain(asked.correlation_id);
    expect(firstRow).toContain(asked.user_id);
    await screenshot(page, '04-image-story');
  });

  it('filters the audit log by instance and action, and pages through it', async () => {
    const page = await signedInAsAlice();
    await page.getByRole('link', { name: 'Audit log' }).click();
    const filters = page.getByRole('form', { name: 'Audit filters' });
    await filters.getByLabel('Instance').fill(domain.uuid);
    await filters.getByLabel('Action (event type)').fill('TaskStateChanged');
    await filters.getByRole('button', { name: 'Filter' }).click();

    const expected = await service.api<{ audit: AuditEntry[] }>(
      'GET',
      `/v1/audit?instance=${domain.uuid}&type=TaskStateChanged&limit=1000`,
    );
    expect(expected.body.audit.length).toBeGreaterThan(1);
    const rows = page.getByRole('table', { name: 'Audit log' }).locator('tbody tr');
    await expect.poll(() => rows.count(), POLL).toBe(Math.min(50, expected.body.audit.length));
    const types = new Set(
      await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-type'))),
    );
    expect([...types]).toEqual(['TaskStateChanged']);
    expect(page.url()).toContain(`instance=${domain.uuid}`);
    await screenshot(page, '05-audit-filtered');

    // A time range after everything: nothing matches.
    await filters.getByLabel('From').fill('2999-01-01T00:00');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No entries match.').waitFor();

    // Unfiltered, 50 to a page: Older reaches entries the first page did not show.
    await filters.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => rows.count(), POLL).toBeGreaterThan(0);
    const all = await service.api<{ audit: AuditEntry[] }>('GET', '/v1/audit?limit=1000');
    if (all.body.audit.length > 50) {
      const firstPage = await rows.first().getAttribute('data-position');
      await page.getByRole('button', { name: 'Older' }).click();
      await expect.poll(() => rows.first().getAttribute('data-position'), POLL).not.toBe(firstPage);
    } else {
      expect(await page.getByRole('button', { name: 'Older' }).count()).toBe(0);
      expect(await rows.count()).toBe(all.body.audit.length);
    }
  });

  it("shows the log's verify status, with the head snapledger verify exports", async () => {
    const page = await signedInAsAlice();
    await page.getByTestId('log-badge').click();
    await page.getByRole('button', { name: 'Verify now' }).click();
    await expect
      .poll(() => page.getByTestId('log-verdict').textContent(), POLL)
      .toBe('log: hash chain whole');
    const head = (await page.getByTestId('log-head').textContent()) ?? '';
    expect(await page.getByTestId('log-checked').textContent()).toContain('by the service');
    const exported = await service.cli(['verify', '--export-head']);
    expect(exported.code, exported.stderr).toBe(0);
    // The CLI reads later: its head is at or after the page's. Both hold the page's head.
    const kept = await service.cli(['verify', '--expect-head', head]);
    expect(kept.code, kept.stdout + kept.stderr).toBe(0);
    expect(Number(exported.stdout.split(':')[0])).toBeGreaterThanOrEqual(
      Number(head.split(':')[0]),
    );
    expect(await page.getByTestId('log-badge').textContent()).toBe('log: hash chain whole');
    await screenshot(page, '06-log-verified');
  });

  it('shows a member of another project none of it', async () => {
    const token = await service.createToken('ui-other-project', 'ui-mallory', 'member');
    const page = await newPage();
    await page.goto(`${service.baseUrl}/ui/`);
    const tokenForm = page.getByRole('form', { name: 'Sign in with a token' });
    await tokenForm.getByLabel('Token').fill(token);
    await tokenForm.getByRole('button', { name: 'Sign in with token' }).click();
    await expect
      .poll(() => page.getByTestId('who').textContent(), POLL)
      .toContain('ui-other-project');
    await page.getByText('This project has no instances.').waitFor();
    expect(await page.locator(`tr[data-instance="${domain.uuid}"]`).count()).toBe(0);

    await page.goto(`${service.baseUrl}/ui/#/instances/${domain.uuid}`);
    await expect
      .poll(() => page.getByRole('alert').first().textContent(), POLL)
      .toContain('could not be found');
    expect(await page.getByRole('form', { name: 'Take a snapshot' }).count()).toBe(0);

    await page.goto(`${service.baseUrl}/ui/#/images/${imageId}`);
    await page.getByText('No events name this image.').waitFor();
    expect(await page.getByTestId('image-status').textContent()).toBe('deleted');

    await page.goto(`${service.baseUrl}/ui/#/audit`);
    await page.getByText('No entries match.').waitFor();
    await screenshot(page, '07-other-project');
  });

  it('serves the page with a policy that allows only its own origin', async () => {
    const res = await fetch(`${service.baseUrl}/ui/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await res.text()).toContain('<div id="app"></div>');
    // The data behind it is not public.
    const unauthenticated = await service.api('GET', '/v1/log/verification', { token: null });
    expect(unauthenticated.status).toBe(401);
  });
});
