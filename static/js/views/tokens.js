// The caller's API tokens: list, create (shown once), delete.
import { api } from '../api.js';
import { h, confirmDanger, copy, dialog, field, onSubmit, page, table, toast, when } from '../ui.js';

function shown(ctx, t) {
	dialog('New token', h('div', {},
		h('p', {}, 'Copy this token now: it is not shown again. Send it as ', h('code', {}, 'Authorization: Bearer …'), '.'),
		h('pre', { class: 'token', tabindex: '0' }, t.token),
		h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => copy(t.token, 'Token copied') }, 'Copy'))),
	{ onClose: () => ctx.refresh() });
}

export async function render(ctx) {
	const list = await api('GET', '/tokens');
	const form = h('form', { class: 'inline card', novalidate: true },
		field('Token name', { name: 'name', placeholder: 'backup script', maxlength: 200, autocomplete: 'off' }),
		h('button', { type: 'submit', class: 'primary' }, 'Create token'));
	onSubmit(form, async v => shown(ctx, await api('POST', '/tokens', { name: v.name })), 'name');
	return page('API tokens',
		h('p', {}, 'Tokens let scripts use the API as you. Each acts with your rights.'),
		form,
		table(['Name', 'Starts with', 'Created', 'Last used', ''], list.map(t => h('tr', {},
			h('td', {}, t.name || '—'), h('td', { class: 'mono' }, t.prefix + '…'),
			h('td', {}, when(t.created)), h('td', {}, when(t.last_used)),
			h('td', { class: 'acts' }, h('button', { type: 'button', class: 'small danger', onclick: async () => {
				if (!await confirmDanger('Delete token', `Delete token ${t.name || t.prefix}? Scripts using it stop working.`)) return;
				try { await api('DELETE', `/tokens/${t.id}`); toast('Token deleted'); ctx.refresh(); }
				catch (e) { toast(e.message, 'bad'); }
			} }, 'Delete')))),
		'You have no tokens.'));
}
