// Recent log events from the server's in-memory ring, newest first, with
// the spam verdict of each message (and of each refused client) read from
// the SMTP server's lines: `spam="add header" score=6.00 folder=Junk`,
// `spam=unchecked`, `dnsbl refused ... zone=Z`, `greylisted ...`.
import { api } from '../api.js';
import { h, page, table, when } from '../ui.js';

export function spamVerdict(text) {
	let m = text.match(/ spam="([^"]*)" score=(-?[0-9.]+)/);
	if (m)
		return `${m[1]} (${m[2]})` + (/ folder=Junk\b/.test(text) ? ' → Junk' : '');
	if (/ spam=unchecked\b/.test(text))
		return 'unchecked';
	m = text.match(/ dnsbl refused .* zone=(\S+)/);
	if (m)
		return 'blocklisted: ' + m[1];
	if (/\] greylisted /.test(text))
		return 'greylisted';
	return '';
}

export async function render(ctx) {
	const { events } = await api('GET', '/log');
	const rows = events.slice().reverse().map(e => h('tr', { class: 'lvl-' + e.level, 'data-level': e.level },
		h('td', { class: 'nowrap' }, when(e.time)), h('td', {}, e.level),
		h('td', { class: 'nowrap' }, spamVerdict(e.text)), h('td', { class: 'mono break' }, e.text)));
	const body = table(['Time', 'Level', 'Spam', 'Event'], rows, 'No events yet.');
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
