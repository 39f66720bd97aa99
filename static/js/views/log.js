// The server's recent log events, newest first, searched on the server by
// level, time, text, address and queue id (GET /api/v1/log), with the spam
// verdict of each message (and of each refused client) read from the SMTP
// server's lines: `spam="add header" score=6.00 folder=Junk`,
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

const LEVELS = ['debug', 'info', 'warning', 'error'];

function query(form) {
	const q = new URLSearchParams();
	const v = name => form.elements[name].value.trim();
	q.set('level', v('level'));
	for (const name of ['q', 'address', 'queue']) if (v(name)) q.set(name, v(name));
	// datetime-local is the browser's local time: send it as an instant
	if (v('since')) q.set('since', Math.floor(new Date(v('since')).getTime() / 1000));
	if (v('until')) q.set('until', Math.floor(new Date(v('until')).getTime() / 1000));
	return q.toString();
}

export async function render(ctx) {
	const box = h('div', {});
	const form = h('form', { class: 'toolbar', role: 'search', onsubmit: e => { e.preventDefault(); load(); } },
		h('select', { name: 'level', 'aria-label': 'Lowest level shown' },
			LEVELS.map(l => h('option', { value: l, selected: l === 'info' }, l + ' and above'))),
		h('input', { type: 'search', name: 'q', placeholder: 'Text', 'aria-label': 'Text' }),
		h('input', { type: 'search', name: 'address', placeholder: 'User or address', 'aria-label': 'User or address' }),
		h('input', { type: 'search', name: 'queue', placeholder: 'Queue id', 'aria-label': 'Queue id' }),
		h('input', { type: 'datetime-local', name: 'since', 'aria-label': 'From' }),
		h('input', { type: 'datetime-local', name: 'until', 'aria-label': 'Until' }),
		h('button', { type: 'submit' }, 'Search'));

	async function load() {
		const { events } = await api('GET', '/log?' + query(form));
		const rows = events.slice().reverse().map(e => h('tr', { class: 'lvl-' + e.level },
			h('td', { class: 'nowrap' }, when(e.time)), h('td', {}, e.level),
			h('td', { class: 'nowrap' }, spamVerdict(e.text)),
			h('td', { class: 'mono break' }, e.text)));
		box.replaceChildren(table(['Time', 'Level', 'Spam', 'Event'], rows, 'No events match.'));
	}
	await load();
	return page('Log', form, box);
}
