// The caller's API tokens: list, create (shown once, with an expiry if
// wanted), delete.
import { api } from '../api.js';
import { h, confirmDanger, copy, dialog, field, onSubmit, page, table, toast, when } from '../ui.js';

function shown(ctx, t) {
	dialog('New token', h('div', {},
		h('p', {}, 'Copy this token now: it is not shown again. Send it as ', h('code', {}, 'Authorization: Bearer …'), '.'),
		h('pre', { class: 'token', tabindex: '0' }, t.token),
		t.expires ? h('p', {}, 'It stops working on ', when(t.expires), '.') : null,
		h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => copy(t.token, 'Token copied') }, 'Copy'))),
	{ onClose: () => ctx.refresh() });
}

const lifetimes = [['', 'Never'], ['7', '7 days'], ['30', '30 days'], ['90', '90 days'], ['365', '1 year']];

export async function render(ctx) {
	const list = await api('GET', '/tokens');
	const expiry = h('div', { class: 'field' }, h('label', { for: 'token-expires' }, 'Expires'),
		h('select', { id: 'token-expires', name: 'expires_in_days', 'aria-describedby': 'token-expires-e' },
			lifetimes.map(([v, label]) => h('option', { value: v }, label))),
		h('small', { class: 'error', id: 'token-expires-e', role: 'alert' }));
	const form = h('form', { class: 'inline card', novalidate: true },
		field('Token name', { name: 'name', placeholder: 'backup script', maxlength: 200, autocomplete: 'off' }),
		expiry,
		h('button', { type: 'submit', class: 'primary' }, 'Create token'));
	onSubmit(form, async v => {
		const body = { name: v.name };
		if (v.expires_in_days) body.expires_in_days = Number(v.expires_in_days);
		shown(ctx, await api('POST', '/tokens', body));
	}, 'name');
	const expired = t => t.expires && new Date(t.expires) <= new Date();
	return page('API tokens',
		h('p', {}, 'Tokens let scripts use the API as you. Each acts with your rights. ',
			'A new password, or a disabled account, ends every token.'),
		form,
		table(['Name', 'Starts with', 'Created', 'Last used', 'Expires', ''], list.map(t => h('tr', {},
			h('td', {}, t.name || '—'), h('td', { class: 'mono' }, t.prefix + '…'),
			h('td', {}, when(t.created)), h('td', {}, t.last_used ? when(t.last_used) : 'never'),
			h('td', {}, t.expires ? (expired(t) ? 'expired' : when(t.expires)) : 'never'),
			h('td', { class: 'acts' }, h('button', { type: 'button', class: 'small danger', onclick: async () => {
				if (!await confirmDanger('Delete token', `Delete token ${t.name || t.prefix}? Scripts using it stop working.`)) return;
				try { await api('DELETE', `/tokens/${t.id}`); toast('Token deleted'); ctx.refresh(); }
				catch (e) { toast(e.message, 'bad'); }
			} }, 'Delete')))),
		'You have no tokens.'));
}
