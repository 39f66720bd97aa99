// Users: create, edit (quota, message limit, admin, enabled), reset password, delete.
import { api, enc } from '../api.js';
import { h, bytes, confirmDanger, dialog, field, onSubmit, page, table, toast } from '../ui.js';

const MiB = 1024 * 1024;

// Quota as typed (MiB, empty or 0 for none) to bytes, or an error naming the field.
function quotaBytes(text) {
	const t = String(text).trim();
	if (t === '') return 0;
	if (!/^\d+(\.\d+)?$/.test(t)) {
		const e = new Error("field 'quota' must be a number of MiB");
		e.status = 422; e.field = 'quota';
		throw e;
	}
	return Math.round(Number(t) * MiB);
}

// The message limit as typed (empty or 0 for none), or an error naming the field.
function messageCount(text) {
	const t = String(text).trim();
	if (t === '') return 0;
	if (!/^\d+$/.test(t)) {
		const e = new Error("field 'quota_messages' must be a whole number of messages");
		e.status = 422; e.field = 'quota_messages';
		throw e;
	}
	return Number(t);
}

function randomPassword() {
	const a = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
	const r = crypto.getRandomValues(new Uint32Array(20));
	return Array.from(r, x => a[x % a.length]).join('');
}

function passwordField(label, name) {
	const f = field(label, { name, type: 'text', autocomplete: 'new-password', required: true, spellcheck: 'false' });
	const input = f.querySelector('input');
	input.after(h('button', { type: 'button', class: 'small', onclick: () => { input.value = randomPassword(); input.select(); } }, 'Generate'));
	return f;
}

function addDialog(ctx) {
	const form = h('form', { novalidate: true },
		field('Address', { name: 'address', type: 'email', required: true, placeholder: 'name@example.org', autocomplete: 'off' }),
		passwordField('Password', 'password'),
		field('Quota (MiB)', { name: 'quota', inputmode: 'decimal', placeholder: 'no limit' }, 'Empty or 0: no limit.'),
		field('Message limit', { name: 'quota_messages', inputmode: 'numeric', placeholder: 'no limit' }, 'Most messages in all mailboxes; empty or 0: no limit.'),
		field('Administrator', { name: 'admin', type: 'checkbox' }),
		h('p', { class: 'form-error', role: 'alert' }),
		h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create user')));
	const d = dialog('New user', form);
	onSubmit(form, async v => {
		await api('POST', '/users', { address: v.address.trim(), password: v.password, quota: quotaBytes(v.quota), quota_messages: messageCount(v.quota_messages), admin: v.admin });
		d.close();
		toast(`User ${v.address.trim()} created`);
		ctx.refresh();
	}, 'address');
}

function editDialog(ctx, u) {
	const self = u.address === ctx.me.user;
	const form = h('form', { novalidate: true },
		field('Quota (MiB)', { name: 'quota', inputmode: 'decimal', value: u.quota ? String(u.quota / MiB) : '', placeholder: 'no limit' }, `Uses ${bytes(u.used)} now.`),
		field('Message limit', { name: 'quota_messages', inputmode: 'numeric', value: u.quota_messages ? String(u.quota_messages) : '', placeholder: 'no limit' }, `Keeps ${u.messages} messages now.`),
		field('Administrator', { name: 'admin', type: 'checkbox', checked: u.admin, disabled: self }),
		field('Enabled (may sign in and receive mail)', { name: 'enabled', type: 'checkbox', checked: u.enabled, disabled: self }),
		h('p', { class: 'form-error', role: 'alert' }),
		h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save')));
	const d = dialog(`Edit ${u.address}`, form);
	onSubmit(form, async v => {
		const body = { quota: quotaBytes(v.quota), quota_messages: messageCount(v.quota_messages) };
		if (!self) { body.admin = v.admin; body.enabled = v.enabled; }
		await api('PATCH', `/users/${enc(u.address)}`, body);
		d.close();
		toast(`${u.address} saved`);
		ctx.refresh();
	}, 'quota');
}

function passwordDialog(ctx, u) {
	const form = h('form', { novalidate: true },
		h('p', {}, `Set a new password for ${u.address}. Their other sessions end.`),
		passwordField('New password', 'password'),
		h('p', { class: 'form-error', role: 'alert' }),
		h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Set password')));
	const d = dialog('Reset password', form);
	onSubmit(form, async v => {
		await api('PATCH', `/users/${enc(u.address)}`, { password: v.password });
		d.close();
		toast(`Password of ${u.address} changed`);
	}, 'password');
}

export async function render(ctx) {
	const list = await api('GET', '/users');
	return page('Users',
		h('p', {}, h('button', { type: 'button', class: 'primary', onclick: () => addDialog(ctx) }, 'New user')),
		table(['Address', 'Role', 'Used / quota', 'Messages', 'State', ''], list.map(u => h('tr', { class: u.enabled ? '' : 'off' },
			h('td', {}, u.address),
			h('td', {}, u.admin ? h('span', { class: 'badge' }, 'admin') : 'user'),
			h('td', {}, `${bytes(u.used)} / ${u.quota ? bytes(u.quota) : '∞'}`),
			h('td', {}, `${u.messages} / ${u.quota_messages ? u.quota_messages : '∞'}`),
			h('td', {}, u.enabled ? 'enabled' : 'disabled'),
			h('td', { class: 'acts' },
				h('button', { type: 'button', class: 'small', onclick: () => editDialog(ctx, u) }, 'Edit'),
				h('button', { type: 'button', class: 'small', onclick: () => passwordDialog(ctx, u) }, 'Password'),
				u.address === ctx.me.user ? null : h('button', { type: 'button', class: 'small danger', onclick: async () => {
					if (!await confirmDanger('Delete user', `Delete ${u.address} with all their mail? This cannot be undone.`)) return;
					try { await api('DELETE', `/users/${enc(u.address)}`); toast(`${u.address} deleted`); ctx.refresh(); }
					catch (e) { toast(e.message, 'bad'); }
				} }, 'Delete')))),
		'No users yet.'));
}
