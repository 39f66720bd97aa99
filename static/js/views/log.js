// The server's recent log events, newest first, searched on the server by
// level, time, text, address and queue id (GET /api/v1/log), with the
// verdicts of each message's checks as the API gives them (an event's
// `checks`: SPF, DKIM, ARC, DMARC, the spam filter's action and score, the
// folder) and the refusals of clients read from the SMTP server's lines:
// `dnsbl refused ... zone=Z`, `greylisted ...`.
import { api } from '../api.js';
import { h, page, table, when } from '../ui.js';

const GOOD = new Set(['pass', 'no action']);
const BAD = new Set(['fail', 'permfail', 'softfail', 'reject', 'refused', 'permerror']);

function verdict(label, result, extra) {
	const cls = GOOD.has(result) ? 'ok' : BAD.has(result) ? 'bad' : '';
	return h('span', { class: 'verdict ' + cls }, `${label} ${result}` + (extra || ''));
}

// The sender checks of a message (SPF, DKIM, ARC, DMARC), one word each.
export function checkVerdicts(c) {
	if (!c) return [];
	const out = [];
	if (c.spf) out.push(verdict('SPF', c.spf));
	if (c.dkim) out.push(verdict('DKIM', c.dkim, c.dkim_domain ? ` (${c.dkim_domain})` : ''));
	if (c.arc) out.push(verdict('ARC', c.arc));
	if (c.dmarc) out.push(verdict('DMARC', c.dmarc,
		(c.header_from ? ` (${c.header_from})` : '') + (c.dmarc_policy ? ` → ${c.dmarc_policy}` : '')
		+ (c.dmarc_override ? ` (overridden: ARC of ${c.arc_domain})` : '')));
	if (c.spoofing) out.push(verdict('local sender', c.spoofing));
	return out;
}

export function spamVerdict(e) {
	const c = e.checks, text = e.text;
	if (c && c.spam) {
		const junk = c.folder === 'Junk' ? ' → Junk' : '';
		return c.spam_score !== undefined ? `${c.spam} (${c.spam_score.toFixed(2)})${junk}` : c.spam + junk;
	}
	if (c && c.folder === 'Junk')
		return 'Junk (DMARC)';
	let m = text.match(/ dnsbl refused .* zone=(\S+)/);
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
			h('td', { class: 'checks' }, checkVerdicts(e.checks)),
			h('td', { class: 'nowrap' }, spamVerdict(e)),
			h('td', { class: 'mono break' }, e.text)));
		box.replaceChildren(table(['Time', 'Level', 'Checks', 'Spam', 'Event'], rows, 'No events match.'));
	}
	await load();
	return page('Log', form, box);
}
