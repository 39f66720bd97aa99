// App passwords: one per mail client, for IMAP, POP3 and SMTP only (never
// this panel), so that the account's password stays in the browser.  Made
// by the server and shown once; revoke one when a device is lost.  An admin
// can look at another user's (#/app_passwords/ADDRESS) and revoke them.
import { api } from '../api.js';
import { h, confirmDanger, copy, dialog, field, onSubmit, page, table, toast, when } from '../ui.js';

function shown(ctx, p) {
	dialog('New app password', h('div', {},
		h('p', {}, 'Enter this password in ', h('strong', {}, p.name),
			' instead of your account password. Copy it now: it is not shown again.'),
		h('pre', { class: 'token', tabindex: '0' }, p.password),
		h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => copy(p.password, 'Password copied') }, 'Copy'))),
	{ onClose: () => ctx.refresh() });
}

function lastUse(p) {
	return p.last_used ? `${when(p.last_used)} (${p.last_protocol.toUpperCase()})` : 'never';
}

export async function render(ctx) {
	const other = ctx.me.admin && ctx.args[0] && ctx.args[0] !== ctx.me.user ? ctx.args[0] : null;
	const list = await api('GET', '/app-passwords' + (other ? '?user=' + encodeURIComponent(other) : ''));
	const parts = [];
	if (other) {
		parts.push(h('p', {}, 'App passwords of ', h('strong', {}, other), '. ',
			h('a', { href: '#/app_passwords' }, 'Back to yours')));
	} else {
		parts.push(h('p', {}, 'Mail apps (phone, desktop) sign in with an app password of their own, never with your account password. An app password works for reading and sending mail only, not for this panel.'));
		const form = h('form', { class: 'inline card', novalidate: true },
			field('Device or app', { name: 'name', placeholder: 'Phone', maxlength: 64, required: true, autocomplete: 'off' }),
			h('button', { type: 'submit', class: 'primary' }, 'Create app password'));
		onSubmit(form, async v => shown(ctx, await api('POST', '/app-passwords', { name: v.name })), 'name');
		parts.push(form);
	}
	if (ctx.me.admin && !other) {
		const look = h('form', { class: 'inline', novalidate: true },
			field('Another user', { name: 'user', type: 'email', placeholder: 'user@example.org' }),
			h('button', { type: 'submit' }, 'Show'));
		onSubmit(look, async v => { location.hash = '#/app_passwords/' + encodeURIComponent(v.user); }, 'user');
		parts.push(look);
	}
	parts.push(table(['Name', 'Created', 'Last used', ''], list.map(p => h('tr', {},
		h('td', {}, p.name), h('td', {}, when(p.created)), h('td', {}, lastUse(p)),
		h('td', { class: 'acts' }, h('button', { type: 'button', class: 'small danger', onclick: async () => {
			if (!await confirmDanger('Revoke app password', `Revoke "${p.name}"? The app using it can no longer sign in.`, 'Revoke')) return;
			try { await api('DELETE', `/app-passwords/${p.id}`); toast('App password revoked'); ctx.refresh(); }
			catch (e) { toast(e.message, 'bad'); }
		} }, 'Revoke')))),
	other ? 'This user has no app passwords.' : 'You have no app passwords.'));
	return page('App passwords', ...parts);
}
