// Aliases and catch-alls.  An admin manages them all; a user sees the ones
// that deliver to them.
import { api, enc } from '../api.js';
import { h, confirmDanger, dialog, field, onSubmit, page, table, toast } from '../ui.js';

const split = text => text.split(/[\s,;]+/).map(s => s.trim()).filter(Boolean);

function editDialog(ctx, a) {
	const form = h('form', { novalidate: true },
		a ? null : field('Source', { name: 'source', required: true, placeholder: 'info@example.org', autocomplete: 'off' },
			'An address, or @example.org to catch every unknown address of the domain.'),
		field('Destinations', { name: 'destinations', type: 'textarea', rows: 3, required: true, placeholder: 'alice@example.org, bob@elsewhere.net' },
			'One or more addresses, separated by commas or new lines.'),
		h('p', { class: 'form-error', role: 'alert' }),
		h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, a ? 'Save' : 'Create alias')));
	if (a) form.querySelector('textarea').value = a.destinations.join('\n');
	const d = dialog(a ? `Edit ${a.source}` : 'New alias', form);
	onSubmit(form, async v => {
		const destinations = split(v.destinations);
		if (a) await api('PATCH', `/aliases/${enc(a.source)}`, { destinations });
		else await api('POST', '/aliases', { source: v.source.trim(), destinations });
		d.close();
		toast(a ? `${a.source} saved` : `Alias ${v.source.trim()} created`);
		ctx.refresh();
	}, 'destinations');
}

export async function render(ctx) {
	const admin = ctx.me.admin;
	const list = await api('GET', '/aliases');
	return page(admin ? 'Aliases' : 'My aliases',
		admin ? h('p', {}, h('button', { type: 'button', class: 'primary', onclick: () => editDialog(ctx, null) }, 'New alias'))
			: h('p', {}, 'Addresses that deliver to you. Ask an admin to change them.'),
		table(['Source', 'Destinations', admin ? '' : null].filter(x => x !== null), list.map(a => h('tr', {},
			h('td', {}, a.source, a.catchall ? h('span', { class: 'badge' }, 'catch-all') : null),
			h('td', {}, h('ul', { class: 'plain' }, a.destinations.map(x => h('li', {}, x)))),
			admin ? h('td', { class: 'acts' },
				h('button', { type: 'button', class: 'small', onclick: () => editDialog(ctx, a) }, 'Edit'),
				h('button', { type: 'button', class: 'small danger', onclick: async () => {
					if (!await confirmDanger('Delete alias', `Delete ${a.source}? Mail to it will be refused.`)) return;
					try { await api('DELETE', `/aliases/${enc(a.source)}`); toast(`${a.source} deleted`); ctx.refresh(); }
					catch (e) { toast(e.message, 'bad'); }
				} }, 'Delete')) : null)),
		admin ? 'No aliases yet.' : 'No alias delivers to you.'));
}
