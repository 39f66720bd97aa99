// Recent log events from the server's in-memory ring, newest first.
import { api } from '../api.js';
import { h, page, table, when } from '../ui.js';

export async function render(ctx) {
	const { events } = await api('GET', '/log');
	const rows = events.slice().reverse().map(e => h('tr', { class: 'lvl-' + e.level, 'data-level': e.level },
		h('td', { class: 'nowrap' }, when(e.time)), h('td', {}, e.level), h('td', { class: 'mono break' }, e.text)));
	const body = table(['Time', 'Level', 'Event'], rows, 'No events yet.');
	const filter = h('select', { 'aria-label': 'Lowest level shown', onchange: () => {
		const order = ['debug', 'info', 'warning', 'error'];
		const min = order.indexOf(filter.value);
		for (const r of rows) r.hidden = order.indexOf(r.dataset.level) < min;
	} }, ['debug', 'info', 'warning', 'error'].map(l => h('option', { value: l }, l + ' and above')));
	const search = h('input', { type: 'search', placeholder: 'Filter text', 'aria-label': 'Filter text', oninput: () => {
		const q = search.value.toLowerCase();
		for (const r of rows) r.classList.toggle('nomatch', q !== '' && !r.textContent.toLowerCase().includes(q));
	} });
	return page('Log',
		h('div', { class: 'toolbar' }, filter, search, h('button', { type: 'button', onclick: () => ctx.refresh() }, 'Refresh')),
		body);
}
