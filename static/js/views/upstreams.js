// Upstream accounts: the user's other mailboxes that mailhub fetches into
// theirs.  Add with a connection test that says what failed (and, when the
// server's certificate did not pass, offers to trust that very certificate),
// fetch now, last error, enable or disable.  An admin sees everyone's.
import { api, ApiError } from '../api.js';
import { h, clearErrors, confirmDanger, dialog, field, showError, page, table, toast, values, when } from '../ui.js';

const split = text => text.split(/[,\n]+/).map(s => s.trim()).filter(Boolean);

function select(label, name, options, value) {
	const id = 'f-' + name + '-' + (++select.n);
	return h('div', { class: 'field' },
		h('label', { for: id }, label),
		h('select', { id, name, 'aria-describedby': id + '-e' },
			options.map(([v, t]) => h('option', { value: v, selected: v === value }, t))),
		h('small', { class: 'error', id: id + '-e', role: 'alert' }));
}
select.n = 0;

// The form's values as the API takes them (empty password: keep the stored one).
function settings(v, ctx, existing) {
	const s = {
		protocol: v.protocol, host: v.host.trim(), port: v.port.trim() === '' ? 0 : Number(v.port),
		tls: v.tls, tls_verify: v.verify === 'pin' ? 'pin:' + v.pin.trim().toLowerCase() : v.verify,
		username: v.username, target: v.target.trim() || 'INBOX',
		keep: v.keep, idle: v.idle, mirror: v.mirror, two_way: v.two_way, sieve: v.sieve, enabled: v.enabled, interval: Math.round(Number(v.interval || 5) * 60),
	};
	if (v.protocol === 'imap') s.folders = split(v.folders).length ? split(v.folders) : ['INBOX'];
	if (!existing) {
		// "password", or "oauth2:PROVIDER": no password, connected afterwards
		const [auth, provider] = v.signin.split(':');
		s.auth = auth;
		if (provider) s.provider = provider;
	}
	if (v.password !== '' && s.auth !== 'oauth2' && (!existing || existing.auth !== 'oauth2')) s.password = v.password;
	if (!existing && ctx.me.admin && v.owner.trim() !== '') s.owner = v.owner.trim();
	if (!Number.isInteger(s.port)) throw new ApiError(422, "field 'port' must be a whole number");
	if (!Number.isFinite(s.interval)) throw new ApiError(422, "field 'interval' must be a number of minutes");
	return s;
}

// trust(sha256) pins the certificate the failed test saw (and tests again).
function testResult(box, t, trust) {
	box.replaceChildren();
	box.className = 'notice ' + (t.ok ? 'good' : 'bad');
	if (!t.ok) {
		box.append(h('strong', {}, 'The test failed: '), t.error);
		if (t.certificate_sha256 && /certificate/i.test(t.error)) {
			box.append(h('small', { class: 'hint break block' },
				'The server presented the certificate with SHA-256 ' + t.certificate_sha256 +
				'. Trust it only if that is your server’s (compare it with what its administrator says).'),
			h('button', { type: 'button', class: 'small', onclick: () => trust(t.certificate_sha256) },
				'Trust this certificate'));
		}
		return;
	}
	box.append(h('strong', {}, 'It works. '),
		t.tls !== 'none' ? `Connected over ${t.tls}` : 'Connected without TLS',
		', logged in, ',
		t.folders ? `and found ${t.folders.length} folder${t.folders.length === 1 ? '' : 's'}: ${t.folders.join(', ')}.`
			: `and found ${t.messages} message${t.messages === 1 ? '' : 's'} waiting.`,
		t.certificate_sha256 ? h('small', { class: 'hint break' }, 'Certificate SHA-256: ' + t.certificate_sha256) : null);
}

const signins = [['password', 'a password'], ['oauth2:google', 'Google (OAuth2)'],
	['oauth2:microsoft', 'Microsoft (OAuth2)'], ['oauth2:yahoo', 'Yahoo (OAuth2)'],
	['oauth2:custom', 'another OAuth2 provider']];

function editDialog(ctx, up, presets = []) {
	const s = up || { protocol: 'imap', tls: 'implicit', tls_verify: 'system', folders: ['INBOX'], target: 'INBOX', keep: true, idle: true, mirror: false, enabled: true, interval: 300 };
	const verify = s.tls_verify.startsWith('pin:') ? 'pin' : s.tls_verify;
	const result = h('div', { class: 'notice', role: 'status', hidden: true });
	const form = h('form', { novalidate: true },
		!up && ctx.me.admin ? field('For user', { name: 'owner', type: 'email', placeholder: ctx.me.user, autocomplete: 'off' }, 'Empty: your own account.') : null,
		!up ? h('div', { class: 'row' },
			select('Provider', 'preset', [['', 'other (type the server)'], ...presets.map(p => [p.name, p.title])], ''),
			select('Sign in with', 'signin', signins, 'password')) : null,
		!up ? h('p', { class: 'hint', id: 'preset-guide' }) : null,
		h('div', { class: 'row' },
			select('Protocol', 'protocol', [['imap', 'IMAP'], ['pop3', 'POP3']], s.protocol),
			select('Security', 'tls', [['implicit', 'TLS'], ['starttls', 'STARTTLS'], ['none', 'none (plain text)']], s.tls)),
		h('div', { class: 'row' },
			field('Server', { name: 'host', value: up ? s.host : '', placeholder: 'imap.example.net', required: true, autocomplete: 'off', spellcheck: 'false' }),
			field('Port', { name: 'port', inputmode: 'numeric', value: up ? String(s.port) : '', placeholder: 'default' })),
		field('Username', { name: 'username', value: up ? s.username : '', required: true, autocomplete: 'off', spellcheck: 'false' }),
		field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: !up, placeholder: up ? 'unchanged' : '' },
			up ? 'Leave empty to keep the stored password.' : 'Stored encrypted; never shown again.'),
		h('div', { class: 'row' },
			select('Certificate check', 'verify', [['system', 'trusted by the system'], ['pin', 'pinned fingerprint'], ['off', 'none (not safe)']], verify),
			field('Pinned SHA-256', { name: 'pin', value: verify === 'pin' ? s.tls_verify.slice(4) : '', autocomplete: 'off', spellcheck: 'false' })),
		field('Folders to fetch (IMAP)', { name: 'folders', value: (s.folders || ['INBOX']).join(', ') }, 'Comma-separated; * alone is every folder the server has.'),
		h('div', { class: 'row' },
			field('Deliver into', { name: 'target', value: s.target }),
			field('Check every (minutes)', { name: 'interval', inputmode: 'decimal', value: String(s.interval / 60) })),
		field('Leave fetched mail on the server', { name: 'keep', type: 'checkbox', checked: s.keep }),
		field('Push new mail at once (IMAP IDLE)', { name: 'idle', type: 'checkbox', checked: s.idle }),
		field('One local folder per server folder, under "Deliver into" (IMAP)', { name: 'mirror', type: 'checkbox', checked: !!s.mirror }),
		field('Two-way sync: reading, flagging, moving and deleting here also happens on the server, and the other way round (IMAP, mail left on the server)', { name: 'two_way', type: 'checkbox', checked: !!s.two_way }),
		field('Sort fetched mail with the owner’s mail filters (the active Sieve script of the Filters page)', { name: 'sieve', type: 'checkbox', checked: !!s.sieve }),
		field('Enabled', { name: 'enabled', type: 'checkbox', checked: s.enabled }),
		result,
		h('p', { class: 'form-error', role: 'alert' }),
		h('div', { class: 'actions' },
			h('button', { type: 'button', class: 'test', onclick: test }, 'Test connection'),
			h('button', { type: 'submit', class: 'primary' }, up ? 'Save' : 'Add account')));
	const d = dialog(up ? `Edit ${up.username} at ${up.host}` : 'New upstream account', form);
	// A preset fills the server's settings and how it signs in; OAuth2
	// needs no password (the account is connected after it is added).
	const signinChanged = () => {
		const oauth = form.elements.signin && form.elements.signin.value !== 'password';
		const pw = form.elements.password;
		if (pw && !up) { pw.closest('.field').hidden = oauth; pw.required = !oauth; }
		const t = form.querySelector('button.test');
		if (t && !up) t.hidden = oauth;
	};
	if (!up) {
		form.elements.signin.addEventListener('change', signinChanged);
		form.elements.preset.addEventListener('change', () => {
			const p = presets.find(x => x.name === form.elements.preset.value);
			const guide = form.querySelector('#preset-guide');
			if (!p) { guide.textContent = ''; return; }
			const pop = form.elements.protocol.value === 'pop3' && p.pop3_host;
			form.elements.host.value = pop ? p.pop3_host : p.imap_host;
			if (!pop) form.elements.protocol.value = 'imap';
			form.elements.port.value = '';
			form.elements.tls.value = 'implicit';
			form.elements.verify.value = 'system';
			form.elements.signin.value = p.auth === 'oauth2' ? 'oauth2:' + p.provider : 'password';
			guide.textContent = p.guide + (p.auth === 'oauth2' && !p.provider_ready
				? ' (The administrator has not set this provider up yet: use an app password, or ask.)' : '');
			if (p.auth === 'oauth2' && !p.provider_ready) form.elements.signin.value = 'password';
			signinChanged();
		});
	}

	async function run(fn) {
		clearErrors(form);
		const btns = form.querySelectorAll('button');
		btns.forEach(b => { b.disabled = true; });
		try { await fn(settings(values(form), ctx, up)); }
		catch (err) { if (err.status === undefined) throw err; showError(form, err); }
		finally { btns.forEach(b => { b.disabled = false; }); }
	}
	async function test() {
		result.hidden = false;
		result.className = 'notice';
		result.textContent = 'Testing…';
		await run(async body => {
			delete body.owner;
			if (up) body.id = up.id;
			try { testResult(result, await api('POST', '/upstreams/test', body), trust); }
			catch (err) { result.hidden = true; throw err; }
		});
	}
	// Pins what the server presented; a stored account needs its password
	// typed again for that (the API sends a stored password only where it
	// was saved for), which the test then says.
	function trust(sha256) {
		form.elements.verify.value = 'pin';
		form.elements.pin.value = sha256;
		test();
	}
	form.addEventListener('submit', ev => {
		ev.preventDefault();
		run(async body => {
			let added = null;
			if (up) await api('PATCH', `/upstreams/${up.id}`, body);
			else added = await api('POST', '/upstreams', body);
			d.close();
			if (added && added.auth === 'oauth2') {
				toast('Account added: now connect it at the provider');
				connect(ctx, added);
				return;
			}
			toast(up ? 'Account saved' : 'Account added: the first fetch starts now');
			ctx.refresh();
		});
	});
}

// Whether the panel is reached by a name over HTTPS (a provider sends the
// user back there: the code flow), or by a LAN address (the device grant:
// a code the user enters at the provider, from any device).
function reachable() {
	return location.protocol === 'https:' && !/^[0-9.]+$|^\[|^localhost$/.test(location.hostname);
}

// Connects an oauth2 account (RFC 7636 code flow, or RFC 8628 device grant).
async function connect(ctx, u) {
	if (reachable()) {
		const r = await api('POST', `/upstreams/${u.id}/oauth/authorize`, { redirect_uri: location.origin + '/' });
		sessionStorage.setItem('oauth2-upstream', String(u.id));
		location.assign(r.url);
		return;
	}
	const dev = await api('POST', `/upstreams/${u.id}/oauth/device`);
	const status = h('p', { role: 'status', class: 'muted' }, 'Waiting for you to say yes there…');
	const link = dev.verification_uri_complete || dev.verification_uri;
	let done = false;
	const d = dialog(`Connect ${u.username}`, h('div', {},
		h('p', {}, 'Open ', h('a', { href: link, target: '_blank', rel: 'noopener' }, dev.verification_uri),
			' (on this or any other device), sign in as ', h('strong', {}, u.username), ' and enter the code:'),
		h('p', { class: 'code', 'data-user-code': dev.user_code }, h('strong', {}, dev.user_code)),
		status), { onClose: () => { done = true; ctx.refresh(); } });
	const deadline = Date.now() + dev.expires_in * 1000;
	while (!done && Date.now() < deadline) {
		await new Promise(res => setTimeout(res, Math.max(1, dev.interval) * 1000));
		if (done) return;
		try {
			const r = await api('POST', `/upstreams/${u.id}/oauth/device/poll`);
			if (r.status === 'connected') {
				toast('Account connected: the first fetch starts now');
				d.close();
				return;
			}
		} catch (e) {
			status.className = 'bad';
			status.textContent = e.message;
			return;
		}
	}
	if (!done) { status.className = 'bad'; status.textContent = 'The code expired: close this and connect again.'; }
}

// Back from the provider (code flow): ?code=...&state=... on the panel.
export async function finishConnect() {
	const q = new URLSearchParams(location.search);
	const id = sessionStorage.getItem('oauth2-upstream');
	if (!id || !(q.has('code') || q.has('error'))) return;
	sessionStorage.removeItem('oauth2-upstream');
	history.replaceState(null, '', location.pathname + '#/upstreams');
	if (q.has('error')) { toast('The provider did not connect the account: ' + q.get('error'), 'bad'); return; }
	try {
		await api('POST', `/upstreams/${id}/oauth/code`, { state: q.get('state') || '', code: q.get('code') });
		toast('Account connected: the first fetch starts now');
	} catch (e) { toast(e.message, 'bad'); }
}

function state(u) {
	if (!u.enabled) return h('span', { class: 'muted' }, 'disabled');
	if (u.state.last_error) return h('span', { class: 'bad' }, u.state.last_error);
	if (u.state.last_ok) return `OK ${when(u.state.last_ok)}`;
	return h('span', { class: 'muted' }, 'not fetched yet');
}

export async function render(ctx) {
	// #/upstreams/ID: that account's page
	if (ctx.args[0]) return (await import('./upstream_account.js')).render(ctx, Number(ctx.args[0]));
	const [list, presets] = await Promise.all([api('GET', '/upstreams'), api('GET', '/upstream-presets')]);
	const act = (label, fn, cls = '') => h('button', { type: 'button', class: 'small ' + cls, onclick: async () => {
		try { await fn(); } catch (e) { toast(e.message, 'bad'); }
	} }, label);
	return page(ctx.me.admin ? 'Upstream accounts' : 'My other accounts',
		h('p', {}, 'Mail from these accounts is fetched into ', ctx.me.admin ? 'their owner’s' : 'your', ' mailbox.'),
		h('p', {}, h('button', { type: 'button', class: 'primary', onclick: () => editDialog(ctx, null, presets) }, 'Add account')),
		table(['Account', ctx.me.admin ? 'Owner' : null, 'State', 'Fetched', ''].filter(x => x !== null), list.map(u => h('tr', { class: u.enabled ? '' : 'off' },
			h('td', {}, h('a', { href: `#/upstreams/${u.id}` }, `${u.username} at ${u.host}`), h('small', { class: 'hint block' }, `${u.protocol.toUpperCase()} port ${u.port}, ${u.tls}`)),
			ctx.me.admin ? h('td', {}, u.owner) : null,
			h('td', { class: 'break' }, state(u)),
			h('td', {}, u.state.fetched),
			h('td', { class: 'acts' },
				u.auth === 'oauth2' ? act(u.state.reconnect ? 'Connect' : 'Reconnect', () => connect(ctx, u), u.state.reconnect ? 'primary' : '') : null,
				act('Fetch now', async () => { await api('POST', `/upstreams/${u.id}/fetch`); toast('Fetching now'); setTimeout(ctx.refresh, 1500); }),
				h('button', { type: 'button', class: 'small', onclick: () => editDialog(ctx, u) }, 'Edit'),
				act(u.enabled ? 'Disable' : 'Enable', async () => {
					await api('PATCH', `/upstreams/${u.id}`, { enabled: !u.enabled });
					toast(u.enabled ? 'Account disabled' : 'Account enabled');
					ctx.refresh();
				}),
				act('Delete', async () => {
					if (!await confirmDanger('Delete account', `Stop fetching from ${u.username} at ${u.host}? Mail fetched so far stays.`)) return;
					await api('DELETE', `/upstreams/${u.id}`);
					toast('Account deleted');
					ctx.refresh();
				}, 'danger')))),
		'No upstream accounts yet.'));
}
