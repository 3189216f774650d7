// The debugger page (www/) in real headless Chromium through playwright-core,
// served by scripts/serve-www.mjs in-process on a free loopback port. The
// tests drive the page like a person (labels, buttons, the clock input) and
// assert on the rendered checklist and verdict text, never on internals.
//
// The page's clock is fixed through the UI (2027-01-15 08:00:00 UTC, browser
// time zone UTC), so nothing depends on the wall clock. Every request that
// leaves the loopback server is aborted and fails the run (offline page).
//
// Screenshots go to test-results/ (git-ignored). UPDATE_DOCS_SCREENSHOT=1
// also rewrites docs/debugger.png, the README's picture.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, requireFile } from './helpers.mjs';

const CHROMIUM = '/usr/bin/chromium';
const RESULTS = join(ROOT, 'test-results');
const DOCS_SHOT = join(ROOT, 'docs', 'debugger.png');
const METADATA = join(ROOT, 'tests/vectors/saml/metadata/idp-metadata.xml');
const NOT_METADATA = join(ROOT, 'tests/vectors/saml/metadata/not-metadata.xml');
const CLOCK = '2027-01-15T08:00:00'; // UTC in the browser: 1800000000
const SUBJECT = 'alice@example.com';
// The debugger's trust entry gives the test IdP its own subject namespace
// (subject_prefix = issuer + "|"): the token's sub, and its idp claim.
const TEST_IDP = 'https://test-idp.example';
const TOKEN_SUBJECT = `${TEST_IDP}|${SUBJECT}`;
const reEscape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

let chromium;
let server;
let context;
let userDataDir;
const offsiteRequests = [];

before(async () => {
  requireFile(CHROMIUM, 'install Debian\'s chromium (scripts/ensure-tools.sh does)');
  requireFile(join(ROOT, 'node_modules/playwright-core/package.json'), 'npm install (playwright-core is a devDependency)');
  requireFile(join(ROOT, 'pkg/index.js'), 'build it first: npm run build:pkg');
  ({ chromium } = await import('playwright-core'));
  const { startServer } = await import('../../scripts/serve-www.mjs');
  server = await startServer({ port: 0, build: false });
  mkdirSync(RESULTS, { recursive: true });
  userDataDir = mkdtempSync(join(tmpdir(), 'ag-www-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1366, height: 768 },
    timezoneId: 'UTC',
    locale: 'en-US',
    colorScheme: 'light',
  });
  const origin = new URL(server.url).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
    offsiteRequests.push(url);
    return route.abort();
  });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  assert.deepEqual(offsiteRequests, [], 'the page must not reach beyond its own origin');
});

// ---------------------------------------------------------------------------
// Helpers: drive the page through its labels and read what it renders

async function openPage() {
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.errors = errors;
  await page.goto(server.url);
  await page.locator('body[data-ready="true"]').waitFor();
  assert.match(await page.getByRole('status').filter({ hasText: 'core' }).innerText(), /ready/);
  // Fix the clock through the UI.
  await page.getByLabel(/^Now\b/).fill(CLOCK);
  await page.getByText('2027-01-15 08:00:00 UTC · 1800000000 · fixed').waitFor();
  return page;
}

const report = (page) => page.locator('#report');

/** Run `action`, then wait until the report has been re-rendered (and is not busy). */
async function settled(page, action) {
  const before = await report(page).getAttribute('data-evaluated');
  await action();
  await page.waitForFunction(
    (prev) => {
      const r = document.getElementById('report');
      return r.dataset.evaluated !== prev && r.getAttribute('aria-busy') === 'false';
    },
    before,
  );
}

const explain = (page) => settled(page, () => page.getByRole('button', { name: /^Explain/ }).click());

/**
 * The rendered checklist: [{ mark, outcome, name, spec, detail, text }]. Each
 * item reads "<mark><outcome>: <name>spec: <spec>— <detail>": the mark is
 * visible text (aria-hidden), the outcome word is there for screen readers.
 */
async function checklist(page) {
  const items = page.getByRole('list', { name: 'Checks' }).getByRole('listitem');
  const texts = await items.allTextContents();
  return texts.map((text) => {
    const m = /^([✓✗–])(passed|failed|skipped): (.*?)spec: (.*?)— (.*)$/s.exec(text);
    assert.ok(m, `a check item reads "<mark><outcome>: <name>spec: <spec>— <detail>": ${JSON.stringify(text)}`);
    return { mark: m[1], outcome: m[2], name: m[3], spec: m[4], detail: m[5], text };
  });
}

function check(list, name) {
  const found = list.find((c) => c.name === name);
  assert.ok(found, `check "${name}" is listed (have: ${list.map((c) => c.name).join(', ')})`);
  return found;
}

const MARKS = { passed: '✓', failed: '✗', skipped: '–' };

function assertMarksMatch(list) {
  for (const c of list) assert.equal(c.mark, MARKS[c.outcome], `${c.name}: the mark matches the outcome text`);
}

async function verdictText(page) {
  return page.getByRole('status').filter({ has: page.getByRole('heading', { level: 3 }) }).innerText();
}

async function generateMintTrust(page, format) {
  await page.getByRole('button', { name: 'Generate key' }).click();
  await page.getByText(/EC P-256 · kid test-idp-/).waitFor();
  await page.getByRole('radio', { name: format === 'saml2' ? 'SAML 2.0' : 'JWT' }).check();
  await settled(page, () => page.getByRole('button', { name: 'Mint', exact: true }).click());
  await settled(page, () => page.getByRole('button', { name: 'Trust this IdP' }).click());
  await explain(page);
}

const assertionBox = (page) => page.getByRole('textbox', { name: 'Assertion', exact: true });

async function screenshot(page, name) {
  const path = join(RESULTS, name);
  await page.screenshot({ path });
  assert.ok(statSync(path).size > 10_000, `${name} was written`);
  return path;
}

// ---------------------------------------------------------------------------

describe('scripts/serve-www.mjs', () => {
  const get = (path, method = 'GET') =>
    new Promise((resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      const req = httpRequest({ hostname, port, path, method }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      });
      req.on('error', reject);
      req.end();
    });

  test('serves www/ at / and pkg/ at /pkg/ with the right MIME types', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const cases = [
      ['/', /^text\/html/],
      ['/app.js', /^text\/javascript/],
      ['/style.css', /^text\/css/],
      ['/pkg/index.js', /^text\/javascript/],
      ['/pkg/assertion_grant.js', /^text\/javascript/],
      ['/pkg/assertion_grant_bg.wasm', /^application\/wasm$/],
    ];
    for (const [path, type] of cases) {
      const res = await get(path);
      assert.equal(res.statusCode, 200, path);
      assert.match(res.headers['content-type'], type, path);
    }
  });

  test('stays inside www/ and pkg/', async () => {
    for (const path of ['/../package.json', '/pkg/../../Cargo.toml', '/%2e%2e/README.md', '/pkg/%2e%2e/%2e%2e/src/lib.rs', '/nope.html']) {
      assert.equal((await get(path)).statusCode, 404, path);
    }
    assert.equal((await get('/', 'POST')).statusCode, 405);
  });
});

describe('the debugger page in Chromium', () => {
  test('SAML: generate a key, mint, trust the IdP, explain → every check passes', async () => {
    const page = await openPage();
    await generateMintTrust(page, 'saml2');

    const verdict = await verdictText(page);
    assert.match(verdict, /Would issue an access token/);
    assert.match(verdict, /at 2027-01-15 08:00:00 UTC/);
    assert.match(verdict, new RegExp(`sub\\s+${reEscape(TOKEN_SUBJECT)}`));
    assert.match(verdict, new RegExp(`idp\\s+${reEscape(TEST_IDP)}`));
    await page.getByText('Detected: SAML · base64url').waitFor();

    const checks = await checklist(page);
    assert.ok(checks.length >= 15, `a full SAML report (${checks.length} checks)`);
    assertMarksMatch(checks);
    for (const c of checks) assert.equal(c.outcome, 'passed', `${c.name} passes: ${c.text}`);
    for (const name of ['signature', 'trusted issuer', 'conditions', 'bearer confirmation', 'expiry', 'one-time use']) {
      assert.equal(check(checks, name).mark, '✓', name);
    }
    assert.match(check(checks, 'signature').spec, /RFC 7522 §3 item 9/, 'the spec reference is shown');
    assert.deepEqual(page.errors, []);

    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      mkdirSync(join(ROOT, 'docs'), { recursive: true });
      await page.locator('#inputs').evaluate((e) => e.scrollTo(0, 0));
      await page.evaluate(() => document.activeElement?.blur());
      await page.mouse.move(1, 767);
      await page.screenshot({ path: DOCS_SHOT });
      assert.ok(statSync(DOCS_SHOT).size < 300_000, 'docs/debugger.png stays under 300 KB');
    }
    await screenshot(page, 'debugger-saml.png');

    // The decoded assertion and the token claims.
    await page.getByRole('tab', { name: 'Decoded assertion' }).click();
    const decoded = await page.getByRole('tabpanel').innerText();
    assert.match(decoded, new RegExp(`<saml:NameID>${SUBJECT}</saml:NameID>`));
    assert.match(decoded, /<ds:SignatureMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#ecdsa-sha256"\/>/);
    await screenshot(page, 'debugger-saml-decoded.png');
    await page.getByRole('tab', { name: 'Token claims' }).click();
    const claims = await page.getByRole('tabpanel').innerText();
    assert.match(claims, new RegExp(`"sub": "${reEscape(TOKEN_SUBJECT)}"`));
    assert.match(claims, /"groups": \[\s*"engineering",\s*"admins"\s*\]/, 'attributes are mapped to claims when trusting');
    await page.getByRole('tab', { name: 'HTTP request' }).click();
    const http = await page.getByRole('tabpanel').innerText();
    assert.match(http, /grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Asaml2-bearer/);
    assert.match(http, /Authorization: Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ=/);

    // (3) Tamper with the subject inside the XML: the signature check fails.
    await page.getByRole('tab', { name: /^Checks/ }).click();
    const xml = Buffer.from(await assertionBox(page).inputValue(), 'base64url').toString('utf8');
    assert.ok(xml.includes(`>${SUBJECT}<`));
    await assertionBox(page).fill(xml.replace(`>${SUBJECT}<`, `>${SUBJECT.replace('alice', 'alicf')}<`));
    await explain(page);
    await page.getByText('Detected: SAML · raw XML').waitFor();
    const tampered = await checklist(page);
    assertMarksMatch(tampered);
    const sig = check(tampered, 'signature');
    assert.equal(sig.mark, '✗', sig.text);
    assert.equal(sig.outcome, 'failed');
    assert.match(await verdictText(page), /Would refuse: invalid_grant[\s\S]*HTTP 400[\s\S]*failed check: signature \(dsig\.invalid\)/);
    // The failed check shows its stable reason code.
    assert.match(sig.text, /dsig\.invalid/);
    assert.match(await page.getByText(/stops at the first failed check/).innerText(), /later checks did not run/);
    await screenshot(page, 'debugger-saml-tampered.png');

    // (4) for SAML: two hours later a time check fails.
    await assertionBox(page).fill(xml);
    await explain(page);
    assert.match(await verdictText(page), /Would issue/);
    await settled(page, () => page.getByRole('button', { name: '+1 h' }).click());
    await settled(page, () => page.getByRole('button', { name: '+1 h' }).click());
    await page.getByText('2027-01-15 10:00:00 UTC · 1800007200 · fixed').waitFor();
    await explain(page);
    const late = await checklist(page);
    const failedLate = late.filter((c) => c.outcome === 'failed');
    assert.equal(failedLate.length, 1);
    assert.ok(['issued at', 'conditions', 'bearer confirmation', 'expiry'].includes(failedLate[0].name), failedLate[0].text);
    assert.match(failedLate[0].detail, /now 2027-01-15T10:00:00Z|too long ago|expired/);
    await page.close();
  });

  test('JWT: mint, trust, explain; tamper with the payload; two hours later the expiry check fails', async () => {
    const page = await openPage();
    await generateMintTrust(page, 'jwt');
    assert.match(await verdictText(page), /Would issue an access token/);
    await page.getByText('Detected: JWT', { exact: true }).waitFor();
    const checks = await checklist(page);
    assertMarksMatch(checks);
    assert.ok(checks.length >= 15, `a full JWT report (${checks.length} checks)`);
    for (const c of checks) assert.notEqual(c.outcome, 'failed', `${c.name}: ${c.text}`);
    for (const c of checks.filter((x) => x.outcome === 'skipped')) {
      assert.ok(['not before'].includes(c.name), `only optional checks are skipped (${c.name})`);
    }
    for (const name of ['signature', 'issuer', 'audience', 'expiry', 'issued at', 'jti', 'one-time use']) {
      assert.equal(check(checks, name).mark, '✓', name);
    }
    await page.getByRole('tab', { name: 'Decoded assertion' }).click();
    const decoded = await page.getByRole('tabpanel').innerText();
    assert.match(decoded, /"alg": "ES256"/);
    assert.match(decoded, new RegExp(`"sub": "${SUBJECT}"`));
    assert.match(decoded, /"exp": 1800000300,?\s*\/\/ 2027-01-15 08:05:00 UTC \(in 5 min\)/);
    await page.getByRole('tab', { name: /^Checks/ }).click();
    await screenshot(page, 'debugger-jwt.png');

    // (3) Change one character of the subject in the payload.
    const jwt = await assertionBox(page).inputValue();
    const [h, p, s] = jwt.split('.');
    const payload = Buffer.from(p, 'base64url').toString('utf8');
    const forged = Buffer.from(payload.replace(SUBJECT, SUBJECT.replace('alice', 'alicf'))).toString('base64url');
    assert.notEqual(forged, p);
    await assertionBox(page).fill(`${h}.${forged}.${s}`);
    await explain(page);
    const tampered = await checklist(page);
    assert.equal(check(tampered, 'signature').mark, '✗');
    assert.match(await verdictText(page), /Would refuse: invalid_grant/);

    // (4) Back to the genuine assertion, then +1 h twice: the expiry check fails.
    await assertionBox(page).fill(jwt);
    await explain(page);
    assert.match(await verdictText(page), /Would issue/);
    await page.getByRole('button', { name: '+1 h' }).click();
    await page.getByRole('button', { name: '+1 h' }).click();
    await page.getByText('2027-01-15 10:00:00 UTC · 1800007200 · fixed').waitFor();
    await explain(page);
    const late = await checklist(page);
    assertMarksMatch(late);
    const expiry = check(late, 'expiry');
    assert.equal(expiry.mark, '✗', expiry.text);
    assert.equal(expiry.outcome, 'failed');
    assert.match(expiry.spec, /RFC 7521 §5\.2 item 4/);
    assert.match(await verdictText(page), /Would refuse: invalid_grant[\s\S]*failed check: expiry/);
    await screenshot(page, 'debugger-jwt-expired.png');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('SAML metadata import trusts the IdP; bad files and configurations show their errors', async () => {
    const page = await openPage();
    const trusted = page.getByRole('list', { name: /^Trusted issuers/ });
    assert.doesNotMatch(await trusted.innerText(), /saml-idp\.example\.com/);

    await page.getByText("Import an IdP's SAML metadata").click();
    // Not metadata: an error, and the configuration is unchanged.
    await page.getByLabel('Metadata file (.xml)').setInputFiles(NOT_METADATA);
    await page.getByText(/^Not imported: /).waitFor();
    assert.doesNotMatch(await trusted.innerText(), /saml-idp\.example\.com/);

    await settled(page, () => page.getByLabel('Metadata file (.xml)').setInputFiles(METADATA));
    assert.match(await page.getByText(/^Trusted https:\/\/saml-idp\.example\.com/).innerText(), /SAML, \d+ signing certificates?/);
    assert.match(await trusted.innerText(), /SAML\s+https:\/\/saml-idp\.example\.com/);
    const config = JSON.parse(await page.getByRole('textbox', { name: /^Configuration JSON/ }).inputValue());
    const entry = config.trusted_issuers.find((t) => t.issuer === 'https://saml-idp.example.com');
    assert.ok(entry, 'the configuration trusts https://saml-idp.example.com');
    assert.equal(entry.format, 'saml2');
    assert.ok(entry.x509_certificates.length >= 1);
    assert.equal(config.trusted_issuers.length, 2, 'the demo IdP is kept');

    // Importing again replaces the entry instead of adding a second one.
    await page.getByRole('button', { name: 'Import into trusted_issuers' }).click();
    await page.getByText(/replaced trusted_issuers\[1\]/).waitFor();
    const again = JSON.parse(await page.getByRole('textbox', { name: /^Configuration JSON/ }).inputValue());
    assert.equal(again.trusted_issuers.length, 2);
    await screenshot(page, 'debugger-metadata.png');

    // A configuration error is shown with its path.
    again.clients[0].token_endpoint_auth_method = 'client_secret_jwt';
    await settled(page, () => page.getByRole('textbox', { name: /^Configuration JSON/ }).fill(JSON.stringify(again, null, 2)));
    assert.match(await verdictText(page), /configuration is refused[\s\S]*clients\[0\]\.token_endpoint_auth_method/);
    assert.match(await page.getByRole('alert').innerText(), /at clients\[0\]\.token_endpoint_auth_method/);
    await page.getByRole('button', { name: 'Reset to the demo configuration' }).click();
    await page.getByRole('alert').waitFor({ state: 'hidden' });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('quick start in one click; Clear; Ctrl+Enter explains with live updates off', async () => {
    const page = await openPage();
    assert.match(await verdictText(page), /Paste an assertion/);
    await settled(page, () => page.getByRole('button', { name: 'mint and trust a SAML test assertion' }).click());
    assert.match(await verdictText(page), /Would issue an access token/);
    assert.ok((await checklist(page)).every((c) => c.outcome === 'passed'));

    await page.getByLabel('Re-explain on every edit').uncheck();
    await settled(page, () => page.getByRole('button', { name: 'Clear' }).click());
    assert.match(await verdictText(page), /Paste an assertion/);
    await assertionBox(page).fill('not an assertion');
    await page.getByText('Detected: empty').waitFor(); // live updates are off
    await assertionBox(page).focus();
    await settled(page, () => page.keyboard.press('Control+Enter'));
    await page.getByText('Detected: not recognised').waitFor();
    assert.match(await verdictText(page), /Would refuse: invalid_grant/);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});
