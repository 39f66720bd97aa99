// The admin panel in Debian's Chromium through playwright-core: the admin
// signs in, adds a domain, a user and an alias, makes a token, looks at each
// screen; the new user signs in, changes their password, turns on two-factor
// sign-in and signs in again with a code this test computes (RFC 6238).  A
// screenshot of every screen goes to $OUT_DIR.  Prints "ok - name" / "not ok - name"
// lines (run_panel.py numbers them into TAP).
//
// Environment: BASE_URL, ADMIN_USER, ADMIN_PASS, OUT_DIR, CHROMIUM.
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import path from 'node:path';

const base = process.env.BASE_URL;
const out = process.env.OUT_DIR;
const admin = { user: process.env.ADMIN_USER, pass: process.env.ADMIN_PASS };
const DOMAIN = 'family.example';
const USER = `carol@${DOMAIN}`;
const TIMEOUT = 15000;

let failures = 0;
async function step(name, fn) {
	try {
		await fn();
		console.log(`ok - ${name}`);
	} catch (err) {
		failures++;
		console.log(`not ok - ${name}`);
		try { await page.screenshot({ path: path.join(out, `failed-${failures}.png`), fullPage: true }); } catch { /* no page */ }
		for (const line of String(err && err.stack || err).split('\n').slice(0, 12))
			console.log(`# ${line}`);
	}
}
function check(cond, what) { if (!cond) throw new Error('check failed: ' + what); }

// Waits until fn(arg), run in the page, resolves to something true.
// page.waitForFunction() cannot do this: it takes the pending promise an
// async function returns as true at once.
async function until(fn, arg, what, timeout = TIMEOUT) {
	const end = Date.now() + timeout;
	for (;;) {
		if (await page.evaluate(fn, arg))
			return;
		if (Date.now() > end)
			throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 300));
	}
}

// RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s) of a base32 secret at a step,
// as an authenticator app computes it.
function totp(secret, step) {
	let bits = '';
	for (const c of secret.replace(/=+$/, ''))
		bits += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(c).toString(2).padStart(5, '0');
	const key = Buffer.from(bits.match(/.{8}/g).map(b => parseInt(b, 2)));
	const msg = Buffer.alloc(8);
	msg.writeBigUInt64BE(BigInt(step));
	const mac = crypto.createHmac('sha1', key).update(msg).digest();
	const v = (mac.readUInt32BE(mac[19] & 15) & 0x7fffffff) % 1000000;
	return String(v).padStart(6, '0');
}
const stepNow = () => Math.floor(Date.now() / 1000 / 30);

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	timeout: 60000,
	// Playwright gives every launch a fresh temporary profile (user data dir).
	args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();
const foreign = [];
const consoleErrors = [];
page.on('request', req => { if (!req.url().startsWith(base)) foreign.push(req.url()); });
page.on('console', msg => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
page.on('pageerror', err => consoleErrors.push(String(err)));

const shot = name => page.screenshot({ path: path.join(out, `panel-${name}.png`), fullPage: true });
const nav = name => page.getByRole('navigation').getByRole('link', { name, exact: true });
const toast = () => page.locator('#toast');
async function signIn(user, pass) {
	await page.getByLabel('Address').fill(user);
	await page.getByLabel('Password').fill(pass);
	await page.getByLabel('Password').press('Enter');	// the keyboard way
}
async function signOut() {
	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.getByRole('button', { name: 'Sign in' }).waitFor();
}

await step('the login page loads with nothing from outside the admin listener', async () => {
	await page.goto(base + '/', { waitUntil: 'networkidle' });
	await page.getByRole('button', { name: 'Sign in' }).waitFor();
	check(foreign.length === 0, 'foreign requests: ' + foreign.join(', '));
	await shot('01-login');
});

await step('a wrong password is shown beside the password field', async () => {
	await signIn(admin.user, 'not-the-password');
	const err = page.locator('#' + await page.getByLabel('Password').getAttribute('aria-describedby'));
	await err.filter({ hasText: 'wrong username or password' }).waitFor();
	check(await page.getByLabel('Password').getAttribute('aria-invalid') === 'true', 'field marked invalid');
	await shot('02-login-error');
});

await step('the admin signs in and sees the dashboard', async () => {
	await signIn(admin.user, admin.pass);
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	await page.getByText('Listeners').waitFor();
	await page.getByText('Recent events').waitFor();
	// the spam filter's card says rspamd is off in this daemon's config
	await page.getByRole('heading', { name: 'Spam filter' }).waitFor();
	await page.getByText('off ([spam] rspamd)').waitFor();
	// the chart of the last day: SVG drawn from /metrics/history
	await page.getByRole('heading', { name: 'Last day' }).waitFor();
	await page.locator('svg.chart polyline.s-received').waitFor({ state: 'attached' });
	await page.getByText(/^received: \d+$/).waitFor();
	// the self-signed certificate of `mailhub init` is warned about
	await page.locator('#cert-warning').getByText(/self-signed/).waitFor();
	// the doctor runs on demand only (it would look up real DNS here)
	await page.getByRole('heading', { name: 'Deliverability check' }).waitFor();
	await page.getByRole('button', { name: 'Check now' }).waitFor();
	await shot('03-dashboard');
});

await step('the keyboard reaches the skip link and the navigation', async () => {
	// A reload keeps the session (the cookie) and starts focus afresh.
	await page.reload();
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	await page.keyboard.press('Tab');
	check(await page.evaluate(() => document.activeElement.className) === 'skip', 'skip link first');
	await page.keyboard.press('Enter');
	check(await page.evaluate(() => document.activeElement.id) === 'main', 'focus in main');
	check(page.url().endsWith('#/dashboard'), 'hash kept: ' + page.url());
	await nav('Domains').focus();
	await page.keyboard.press('Enter');
	await page.getByRole('heading', { name: 'Domains' }).waitFor();
});

await step('an invalid domain is refused beside the field', async () => {
	await nav('Domains').click();
	await page.getByRole('heading', { name: 'Domains' }).waitFor();
	await page.getByLabel('New domain').fill('not a domain!');
	await page.getByRole('button', { name: 'Add domain' }).click();
	await page.locator('.field .error').filter({ hasText: 'not a valid domain name' }).waitFor();
});

await step('the admin adds a domain', async () => {
	await page.getByLabel('New domain').fill(DOMAIN);
	await page.getByRole('button', { name: 'Add domain' }).click();
	await page.getByRole('link', { name: DOMAIN, exact: true }).waitFor();
	await shot('04-domains');
});

await step('the domain shows its DNS records', async () => {
	await page.getByRole('row', { name: new RegExp(DOMAIN) }).getByRole('link', { name: 'DNS records' }).click();
	await page.getByRole('heading', { name: `DNS for ${DOMAIN}` }).waitFor();
	const zone = await page.locator('pre.zone').textContent();
	check(zone.includes(`${DOMAIN}.\t3600\tIN\tMX\t10 mail.test.`), 'MX line in ' + zone);
	check(zone.includes('_dmarc.' + DOMAIN), 'DMARC');
	check(zone.includes(`_imaps._tcp.${DOMAIN}.`), 'SRV');
	check(/_domainkey\.family\.example\.\t3600\tIN\tTXT\t"v=DKIM1; k=/.test(zone), 'DKIM record');
	await page.getByText('is signed with the key', { exact: false }).waitFor();
	await shot('05-dns');
});

await step('the admin creates a user', async () => {
	await nav('Users').click();
	await page.getByRole('button', { name: 'New user' }).click();
	const d = page.getByRole('dialog', { name: 'New user' });
	await d.getByLabel('Address').fill(USER);
	await d.getByLabel('Password', { exact: true }).fill('first-pass-1');
	await d.getByLabel('Quota (MiB)').fill('100');
	await d.getByLabel('Message limit').fill('5000');
	await shot('06-user-new');
	await d.getByRole('button', { name: 'Create user' }).click();
	await page.getByRole('cell', { name: USER, exact: true }).waitFor();
	const row = await page.getByRole('row', { name: new RegExp(USER) }).textContent();
	check(row.includes('100 MiB'), 'quota shown');
	check(row.includes('0 / 5000'), 'message limit shown');
	await shot('07-users');
});

await step('a user address outside the local domains is refused beside the field', async () => {
	await page.getByRole('button', { name: 'New user' }).click();
	const d = page.getByRole('dialog', { name: 'New user' });
	await d.getByLabel('Address').fill('dave@not-local.example');
	await d.getByLabel('Password', { exact: true }).fill('x-password-2');
	await d.getByRole('button', { name: 'Create user' }).click();
	await d.locator('.field .error').filter({ hasText: "field 'address'" }).waitFor();
	await page.keyboard.press('Escape');
	await d.waitFor({ state: 'detached' });
});

await step('the admin creates an alias', async () => {
	await nav('Aliases').click();
	await page.getByRole('button', { name: 'New alias' }).click();
	const d = page.getByRole('dialog', { name: 'New alias' });
	await d.getByLabel('Source').fill(`info@${DOMAIN}`);
	await d.getByLabel('Destinations').fill(USER);
	await d.getByRole('button', { name: 'Create alias' }).click();
	await page.getByRole('cell', { name: `info@${DOMAIN}`, exact: true }).waitFor();
	await shot('08-aliases');
});

await step('the admin creates an API token, shown once', async () => {
	await nav('API tokens').click();
	await page.getByLabel('Token name').fill('browser test');
	await page.getByRole('button', { name: 'Create token' }).click();
	const d = page.getByRole('dialog', { name: 'New token' });
	const token = (await d.locator('pre.token').textContent()).trim();
	check(/^[0-9a-f]{64}$/.test(token), 'token format');
	await shot('09-token');
	await d.getByRole('button', { name: 'Close' }).click();
	await page.getByRole('cell', { name: 'browser test' }).waitFor();
	await shot('10-tokens');
});

await step('the admin creates an app password for a mail app, shown once, and revokes it', async () => {
	await nav('App passwords').click();
	await page.getByLabel('Device or app').fill('Phone');
	await page.getByRole('button', { name: 'Create app password' }).click();
	const d = page.getByRole('dialog', { name: 'New app password' });
	const pw = (await d.locator('pre.token').textContent()).trim();
	check(/^[a-z]{4}(-[a-z]{4}){3}$/.test(pw), 'app password format');
	await shot('10b-app-password');
	await d.getByRole('button', { name: 'Close' }).click();
	const row = page.getByRole('row').filter({ hasText: 'Phone' });
	await row.getByRole('cell', { name: 'never' }).waitFor();
	await row.getByRole('button', { name: 'Revoke' }).click();
	await page.getByRole('dialog', { name: 'Revoke app password' }).getByRole('button', { name: 'Revoke' }).click();
	await toast().filter({ hasText: 'App password revoked' }).waitFor();
	await page.getByText('You have no app passwords.').waitFor();
});

await step('the queue screen lists, retries and deletes a message; the log shows', async () => {
	await nav('Queue').click();
	await page.getByRole('heading', { name: 'Outbound queue' }).waitFor();
	if (process.env.QUEUED === '1') {
		const row = page.getByRole('row', { name: /admin@example\.org/ });
		await row.waitFor();
		await shot('11-queue');
		await row.getByRole('button', { name: 'Details' }).click();
		const d = page.getByRole('dialog');
		await d.getByRole('cell', { name: 'friend@remote.example' }).waitFor();
		await shot('11-queue-details');
		await page.keyboard.press('Escape');
		await row.getByRole('button', { name: 'Retry now' }).click();
		await toast().filter({ hasText: 'Due now' }).waitFor();
		await row.getByRole('button', { name: 'Delete' }).click();
		await page.getByRole('dialog', { name: 'Delete message' }).getByRole('button', { name: 'Delete' }).click();
		await page.getByText('The queue is empty').waitFor();
	} else {
		await shot('11-queue');
	}
	await nav('Log').click();
	await page.getByRole('heading', { name: 'Log' }).waitFor();
	await page.getByRole('cell', { name: new RegExp(`web user=${USER} added`) }).waitFor();
	// each message's SPF/DKIM/DMARC verdicts and spam verdict have columns
	for (const col of ['Checks', 'Spam'])
		await page.getByRole('columnheader', { name: col, exact: true }).waitFor();
	await shot('12-log');
	// searched on the server: by address, then by text nothing has
	await page.getByRole('searchbox', { name: 'User or address' }).fill(USER);
	await page.getByRole('button', { name: 'Search' }).click();
	await page.getByRole('cell', { name: new RegExp(`web user=${USER} added`) }).waitFor();
	await page.getByRole('searchbox', { name: 'Text' }).fill('no-such-event-text');
	await page.getByRole('button', { name: 'Search' }).click();
	await page.getByText('No events match.').waitFor();
});

await step('the panel fits a phone', async () => {
	await page.setViewportSize({ width: 375, height: 740 });
	await page.getByRole('button', { name: 'Menu' }).click();
	await nav('Dashboard').click();
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	const wide = await page.evaluate(() => document.documentElement.scrollWidth);
	check(wide <= 375, `page is ${wide}px wide`);
	await shot('13-phone');
	await page.setViewportSize({ width: 1280, height: 860 });
	await page.emulateMedia({ colorScheme: 'dark' });
	await shot('13-dark');
	await page.emulateMedia({ colorScheme: 'light' });
});

await step('the new user signs in, sees only their screens, and changes their password', async () => {
	await signOut();
	await signIn(USER, 'first-pass-1');
	await page.getByRole('heading', { name: 'My account' }).waitFor();
	check(await page.getByRole('link', { name: 'Users' }).count() === 0, 'no Users link for a user');
	await page.getByLabel('Current password').fill('wrong-one');
	await page.getByLabel('New password', { exact: true }).fill('second-pass-2');
	await page.getByLabel('New password again').fill('second-pass-2');
	await page.getByRole('button', { name: 'Change password' }).click();
	await page.locator('.field .error').filter({ hasText: 'not your current password' }).waitFor();
	await page.getByLabel('Current password').fill('first-pass-1');
	await page.getByRole('button', { name: 'Change password' }).click();
	await toast().filter({ hasText: 'Your password has been changed' }).waitFor();
	// "download my mailbox": the link streams a tar with the session cookie
	const dl = page.getByRole('link', { name: 'Download all my mail' });
	const resp = await page.request.get(new URL(await dl.getAttribute('href'), page.url()).toString());
	check(resp.status() === 200, 'download status ' + resp.status());
	check(resp.headers()['content-type'] === 'application/x-tar', 'download type ' + resp.headers()['content-type']);
	check((await resp.body()).length % 512 === 0, 'a whole number of tar blocks');
	await shot('14-account');
	await nav('Aliases').click();
	await page.getByRole('cell', { name: `info@${DOMAIN}`, exact: true }).waitFor();
	await shot('15-user-aliases');
	await signOut();
	await signIn(USER, 'second-pass-2');
	await page.getByRole('heading', { name: 'My account' }).waitFor();
});

await step('the user turns on two-factor sign-in and signs in with a code', async () => {
	await nav('My account').click();
	await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
	const secret = (await page.locator('pre.secret').textContent()).replace(/\s/g, '');
	check(/^[A-Z2-7]{32}$/.test(secret), 'secret ' + secret);
	const uri = await page.locator('pre.uri').textContent();
	check(uri.startsWith('otpauth://totp/') && uri.includes('secret=' + secret), 'uri ' + uri);
	await shot('15a-totp-enrol');
	const t = stepNow();
	await page.getByLabel('Code from the app').fill(totp(secret, t));
	await page.getByRole('button', { name: 'Turn on' }).click();
	const d = page.getByRole('dialog', { name: 'Recovery codes' });
	await d.waitFor();
	const codes = await d.locator('li').allTextContents();
	check(codes.length === 10 && codes.every(c => /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/.test(c)), 'codes ' + codes);
	await shot('15b-recovery-codes');
	await d.getByRole('button', { name: 'Close' }).click();
	await page.getByText('On. 10 recovery codes left.').waitFor();
	await signOut();
	// The password alone leads to the code step, not into the panel.
	await signIn(USER, 'second-pass-2');
	const code = page.getByLabel('Code', { exact: true });
	await code.waitFor();
	check(await page.getByRole('navigation').count() === 0, 'no panel before the code');
	const near = new Set([-2, -1, 0, 1, 2].map(i => totp(secret, t + i)));
	await code.fill(['111111', '222222', '333333'].find(c => !near.has(c)));
	await page.getByRole('button', { name: 'Verify' }).click();
	await page.locator('.field .error').filter({ hasText: 'wrong or used code' }).waitFor();
	await shot('15c-totp-login');
	// The next step's code: the server takes one step either side of its own.
	await code.fill(totp(secret, stepNow() + 1));
	await page.getByRole('button', { name: 'Verify' }).click();
	await page.getByRole('heading', { name: 'My account' }).waitFor();
});

await step('the user adds an upstream account after a connection test', async () => {
	const ok = process.env.UPSTREAM_OK === '1';
	await nav('Upstream accounts').click();
	await page.getByRole('heading', { name: 'My other accounts' }).waitFor();
	await page.getByRole('button', { name: 'Add account' }).click();
	const d = page.getByRole('dialog', { name: 'New upstream account' });
	await d.getByLabel('Server', { exact: true }).fill(process.env.UPSTREAM_HOST);
	await d.getByLabel('Port', { exact: true }).fill(process.env.UPSTREAM_PORT);
	await d.getByLabel('Username', { exact: true }).fill(process.env.UPSTREAM_USER);
	await d.getByLabel('Password', { exact: true }).fill('wrong-password');
	if (ok) {
		// The self-signed certificate fails the system check; the failed
		// test offers to trust the one the server presented.
		await d.getByRole('button', { name: 'Test connection' }).click();
		await d.locator('.notice.bad').filter({ hasText: 'certificate' }).waitFor();
		check((await d.locator('.notice.bad').textContent()).includes(process.env.UPSTREAM_PIN),
		      'the fingerprint the server presented is shown');
		await d.getByRole('button', { name: 'Trust this certificate' }).click();
		await d.locator('.notice.bad').filter({ hasText: /log ?in|password/i }).waitFor();
		check(await d.getByLabel('Pinned SHA-256').inputValue() === process.env.UPSTREAM_PIN,
		      'the certificate is pinned');
	} else {
		await d.getByRole('button', { name: 'Test connection' }).click();
	}
	await d.locator('.notice.bad').filter({ hasText: 'The test failed' }).waitFor();
	const failure = await d.locator('.notice.bad').textContent();
	check(ok ? /log ?in|auth|password|credentials/i.test(failure) : /connect/i.test(failure), failure);
	await shot('16-upstream-test-failed');
	if (ok) {
		await d.getByLabel('Password', { exact: true }).fill(process.env.UPSTREAM_PASS);
		await d.getByRole('button', { name: 'Test connection' }).click();
		await d.locator('.notice.good').filter({ hasText: 'It works' }).waitFor();
		check((await d.locator('.notice.good').textContent()).includes('INBOX'), 'folders listed');
		await shot('17-upstream-test-ok');
	}
	await d.getByLabel('One local folder per server folder', { exact: false }).check();
	await d.getByLabel('Two-way sync', { exact: false }).check();
	await d.getByRole('button', { name: 'Add account' }).click();
	await d.waitFor({ state: 'detached' });
	const row = page.getByRole('row', { name: new RegExp(`${process.env.UPSTREAM_USER} at`) });
	await row.waitFor();
	const saved = await page.evaluate(() => fetch('/api/v1/upstreams').then((r) => r.json()));
	check(saved.length === 1 && saved[0].mirror === true, 'folder mirroring saved from the form');
	check(saved[0].two_way === true, 'two-way sync saved from the form');
	check(saved[0].sieve === false, 'no Sieve on fetched mail unless asked');
	await row.getByRole('button', { name: 'Fetch now' }).click();
	await toast().filter({ hasText: 'Fetching now' }).waitFor();
	if (ok) {
		// the account's page: per folder the last sync, the messages, how
		// new mail is noticed (the account's IDLE session on INBOX)
		const id = saved[0].id;
		await until((id) => fetch(`/api/v1/upstreams/${id}/folders`).then(r => r.json())
			.then(f => f.length === 1 && f[0].last_sync !== null && f[0].push === 'idle'), id,
			'the INBOX synced and pushed by IDLE', 30000);
		await row.getByRole('link', { name: new RegExp(`${process.env.UPSTREAM_USER} at`) }).click();
		await page.getByRole('heading', { name: `${process.env.UPSTREAM_USER} at ${process.env.UPSTREAM_HOST}` }).waitFor();
		const folders = page.getByRole('region', { name: 'Folders' });
		const inbox = folders.getByRole('row', { name: /^INBOX/ });
		await inbox.waitFor();
		check((await folders.getByRole('columnheader').allTextContents()).join('|') ===
			'Folder|Goes to|Last sync|Messages|New mail|Last error', 'the columns');
		const cells = await inbox.getByRole('cell').allTextContents();
		check(cells[1] === 'INBOX/INBOX' && cells[2] !== 'never' && cells[3] === '1' &&
		      cells[4] === 'pushed at once (IDLE)' && cells[5] === 'none', cells.join('|'));
		await page.locator('.notice.good').filter({ hasText: 'Fetched without trouble' }).waitFor();
		await shot('18a-upstream-account');
		await page.getByRole('link', { name: 'My other accounts' }).click();
		await row.waitFor();
	}
	await row.getByRole('button', { name: 'Disable' }).click();
	await page.getByRole('row', { name: /disabled/ }).waitFor();
	await shot('18-upstreams');
	// the edit form turns Sieve on fetched mail on, and shows it after
	for (const on of [true, false]) {
		await row.getByRole('button', { name: 'Edit' }).click();
		const e = page.getByRole('dialog', { name: new RegExp(`^Edit ${process.env.UPSTREAM_USER} at`) });
		const box = e.getByLabel('Sort fetched mail with the owner’s mail filters', { exact: false });
		check(await box.isChecked() === !on, 'the edit form shows the stored Sieve mark');
		await box.setChecked(on);
		await e.getByRole('button', { name: 'Save' }).click();
		await e.waitFor({ state: 'detached' });
		const edited = await page.evaluate(() => fetch('/api/v1/upstreams').then((r) => r.json()));
		check(edited[0].sieve === on && edited[0].enabled === false, 'Sieve on fetched mail saved');
	}
});

await step('the user imports their old IMAP account in the background and sees it finish', async () => {
	const ok = process.env.UPSTREAM_OK === '1';
	await nav('Import mail').click();
	await page.getByRole('heading', { name: 'Import mail', exact: true }).waitFor();
	const form = page.locator('#import-form');
	await form.getByLabel('IMAP server').fill(process.env.UPSTREAM_HOST);
	await form.getByLabel('Port').fill(process.env.UPSTREAM_PORT);
	await form.getByLabel('Security').selectOption('implicit');
	await form.getByLabel('Certificate').selectOption('off');	// Dovecot's is self-signed
	await form.getByLabel('Username').fill(process.env.UPSTREAM_USER);
	await form.getByLabel('Password', { exact: true }).fill(process.env.UPSTREAM_PASS);
	await form.getByRole('button', { name: 'Start import' }).click();
	await toast().filter({ hasText: 'Import started' }).waitFor();
	const status = page.locator('#import-status');
	// the page polls the route until the job ends
	await page.locator(`#import-status[data-state="${ok ? 'done' : 'failed'}"]`).waitFor({ timeout: 60000 });
	const bar = page.getByRole('progressbar', { name: 'Import progress' });
	const [value, max] = [Number(await bar.getAttribute('value')), Number(await bar.getAttribute('max'))];
	const counts = await page.locator('#import-counts').textContent();
	if (ok) {
		check((await page.locator('#import-state').textContent()) === 'Finished', 'the state says finished');
		check(value === max && max === 41, `the bar is full: ${value} of ${max}`);
		check(/41 of 41 messages, 2 of 2 folders/.test(counts), counts);
		check(!(await status.getByRole('button', { name: 'Cancel import' }).count()), 'nothing left to cancel');
		const mine = await page.evaluate(() => fetch('/api/v1/users/carol%40family.example/import').then(r => r.json()));
		check(mine.state === 'done' && mine.imported === 41 && mine.errors.length === 0, JSON.stringify(mine));
	} else {
		check(/connect/i.test(await page.locator('#import-errors').textContent()), 'the error says what failed');
	}
	await shot('19-import');
});

await step('the user writes a filter rule and a vacation reply, and sees a script error by its line', async () => {
	await nav('Filters').click();
	await page.getByRole('heading', { name: 'Filters' }).waitFor();
	const rule = page.getByRole('form', { name: 'New rule' });
	await rule.getByLabel('Field').selectOption('subject');
	await rule.getByLabel('Value').fill('invoice');
	await rule.getByLabel('Folder, address or text').fill('Bills');
	await rule.getByRole('button', { name: 'Add rule' }).click();
	await page.getByRole('cell', { name: 'Subject contains "invoice" → Move to folder Bills' }).waitFor();
	const vac = page.getByRole('form', { name: 'Vacation reply' });
	await vac.getByLabel('Send vacation replies').check();
	await vac.getByLabel('Subject').fill('Away');
	await vac.getByLabel('Text').fill('Back on Monday.');
	await vac.getByRole('button', { name: 'Save vacation reply' }).click();
	await until(() => fetch('/api/v1/sieve/filters').then(r => r.json())
		.then(s => s.active && s.script.includes('vacation :days 1 :subject "Away"')), undefined,
		'the vacation reply in the active script');
	const s = await page.evaluate(() => fetch('/api/v1/sieve/filters').then(r => r.json()));
	check(s.script.includes('if header :contains "subject" "invoice" {') &&
	      s.script.includes('fileinto :create "Bills";'), s.script);
	await page.getByRole('cell', { name: 'Subject contains "invoice" → Move to folder Bills' }).waitFor();
	await shot('18b-filters');
	await page.getByRole('link', { name: 'New script' }).click();
	const raw = page.getByRole('form', { name: 'Raw Sieve' });
	await raw.getByLabel('Name').fill('mine');
	await raw.getByLabel('Script', { exact: true }).fill('require "fileinto";\nif true {\n  fileinto "A"\n}\n');
	await raw.getByRole('button', { name: 'Save script' }).click();
	await page.locator('.sieve-errors').filter({ hasText: 'line 4: error' }).waitFor();
	await shot('18c-filters-error');
	await raw.getByLabel('Script', { exact: true }).fill('require "fileinto";\nfileinto "A";\n');
	await raw.getByRole('button', { name: 'Save script' }).click();
	await page.getByRole('cell', { name: 'mine', exact: true }).waitFor();
});

await step('the admin sees the upstream account and sets a smarthost', async () => {
	await signOut();
	await signIn(admin.user, admin.pass);
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	await page.getByText(`(${USER})`).waitFor();
	await nav('Upstream accounts').click();
	await page.getByRole('cell', { name: USER, exact: true }).waitFor();
	await nav('Outgoing mail').click();
	await page.getByLabel(/Through a smarthost/).check();
	await page.getByLabel('Smarthost', { exact: true }).fill('bad host!');
	await page.getByLabel('Port', { exact: true }).fill('465');
	await page.getByRole('button', { name: 'Save' }).click();
	await page.locator('.field .error').filter({ hasText: "field 'host'" }).waitFor();
	await page.getByLabel('Smarthost', { exact: true }).fill('smtp.provider.example');
	await page.getByLabel('Username', { exact: true }).fill('me@provider.example');
	await page.getByLabel('Password', { exact: true }).fill('smarthost-pass');
	await page.getByRole('button', { name: 'Save' }).click();
	await toast().filter({ hasText: 'through smtp.provider.example' }).waitFor();
	// per destination domain: the queued message to remote.example could
	// not even find the domain's MX (the resolver is a closed port)
	const dest = page.getByRole('region', { name: 'Destination domains' });
	const row = dest.getByRole('row', { name: /remote\.example/ });
	await row.waitFor();
	check(await row.getByRole('cell', { name: 'never' }).count() === 1, 'never delivered');
	await row.getByRole('cell', { name: /DNS lookup for remote\.example failed/ }).waitFor();
	check((await dest.getByRole('columnheader').allTextContents()).join('|') ===
		'Domain|TLS|MTA-STS|DANE|Last delivered|Last error', 'the columns');
	// the TLS report run_panel.py posted about example.org
	const rpt = page.getByRole('region', { name: 'TLS reports received' });
	const rrow = rpt.getByRole('row', { name: /Panel Reporter/ });
	await rrow.getByRole('cell', { name: 'example.org', exact: true }).waitFor();
	await rrow.getByRole('cell', { name: /certificate-expired x2/ }).waitFor();
	check(await rrow.getByRole('cell', { name: 'HTTPS', exact: true }).count() === 1, 'came by HTTPS');
	await shot('19-relay');
});

await step('the admin adds an OAuth2 account and connects it with the device code', async () => {
	if (!process.env.OAUTH_APPROVE_URL) {
		check(true, 'no OAuth2 server (python3-oauthlib or Dovecot missing)');
		return;
	}
	await nav('Upstream accounts').click();
	await page.getByRole('button', { name: 'Add account' }).click();
	const d = page.getByRole('dialog', { name: 'New upstream account' });
	await d.getByLabel('Sign in with').selectOption('oauth2:custom');
	check(await d.getByLabel('Password', { exact: true }).isHidden(), 'no password for OAuth2');
	await d.getByLabel('Server', { exact: true }).fill(process.env.UPSTREAM_HOST);
	await d.getByLabel('Port', { exact: true }).fill(process.env.UPSTREAM_PORT);
	await d.getByLabel('Username', { exact: true }).fill(process.env.UPSTREAM_USER);
	await d.getByLabel('Certificate check').selectOption('pin');
	await d.getByLabel('Pinned SHA-256').fill(process.env.UPSTREAM_PIN);
	await d.getByLabel('Deliver into', { exact: true }).fill('Connected');
	await d.getByRole('button', { name: 'Add account' }).click();
	// the panel is reached by 127.0.0.1: the device grant, a code to enter
	const c = page.getByRole('dialog', { name: `Connect ${process.env.UPSTREAM_USER}` });
	const code = await c.locator('[data-user-code]').getAttribute('data-user-code');
	await shot('20-oauth-device-code');
	// the user says yes at the provider (from any device)
	const r = await fetch(process.env.OAUTH_APPROVE_URL, {
		method: 'POST', body: new URLSearchParams({ user_code: code, user: process.env.UPSTREAM_USER }) });
	check(r.ok, 'approved at the provider');
	await toast().filter({ hasText: 'Account connected' }).waitFor({ timeout: 30000 });
	await c.waitFor({ state: 'detached' });
	// and the daemon fetches with the grant
	let fetched = 0;
	for (let i = 0; i < 100 && fetched < 1; i++) {
		const list = await page.evaluate(() => fetch('/api/v1/upstreams').then((x) => x.json()));
		const a = list.find((u) => u.target === 'Connected');
		fetched = a ? a.state.fetched : 0;
		check(!a || a.auth === 'oauth2', 'an oauth2 account');
		if (fetched < 1) await page.waitForTimeout(300);
	}
	check(fetched >= 1, 'the connected account fetched');
	await page.reload();
	await page.getByRole('button', { name: 'Reconnect' }).waitFor();
	await shot('21-oauth-connected');
	// the smarthost logs in with that account's grant (the relay settings)
	const acct = (await page.evaluate(() => fetch('/api/v1/upstreams').then((x) => x.json())))
		.find((u) => u.target === 'Connected');
	await nav('Outgoing mail').click();
	await page.getByLabel('Log in with').selectOption(String(acct.id));
	check(await page.getByLabel('Username', { exact: true }).isHidden(), 'no username with a grant');
	await page.getByRole('button', { name: 'Save' }).click();
	await toast().filter({ hasText: 'through smtp.provider.example' }).waitFor();
	const relay = await page.evaluate(() => fetch('/api/v1/relay').then((x) => x.json()));
	check(relay.smarthost.oauth_upstream === acct.id && relay.smarthost.username === null,
	      JSON.stringify(relay));
	await page.reload();
	check(await page.getByLabel('Log in with').inputValue() === String(acct.id), 'shown again');
	await shot('22-relay-oauth');
});

await step('no script errors and no request outside the admin listener', async () => {
	check(consoleErrors.filter(e => !/status of 4[0-9][0-9]/.test(e)).length === 0, consoleErrors.join('\n'));
	check(foreign.length === 0, foreign.join(', '));
});

await browser.close();
process.exit(failures ? 1 : 0);
