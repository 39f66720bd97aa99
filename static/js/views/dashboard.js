// The dashboard: listeners, counts, queue, upstreams, spam filter, disk,
// recent events.
import { api } from '../api.js';
import { h, bytes, duration, page, table, when } from '../ui.js';

function stat(label, value, href) {
	const body = [h('span', { class: 'label' }, label), h('strong', {}, value)];
	return h('li', { class: 'stat' }, href ? h('a', { href }, body) : h('div', {}, body));
}

// rspamd as the status says it: connected, unavailable (why), or not yet
// contacted; the learning from moves into and out of Junk; the lists.
function spamCard(spam) {
	const rs = spam.rspamd;
	let state;
	if (!rs.configured)
		state = h('span', { class: 'muted' }, 'off ([spam] rspamd)');
	else if (rs.state === 'connected')
		state = h('span', {}, h('strong', {}, 'connected'), ` — last: ${rs.last_result} `, when(rs.last_contact));
	else if (rs.state === 'unavailable')
		state = h('span', {}, h('strong', { class: 'bad' }, 'unavailable'), ` — ${rs.last_result} `,
			when(rs.last_contact), '; mail is delivered unchecked');
	else
		state = h('span', { class: 'muted' }, 'not contacted yet');
	const learn = rs.learning;
	let learning = h('span', { class: 'muted' }, 'off');
	if (learn.configured)
		learning = h('span', {}, `${learn.learned} learned, ${learn.queued} waiting`,
			learn.last ? [' — last: ', learn.ok ? learn.last_result : h('span', { class: 'bad' }, learn.last_result),
				' ', when(learn.last)] : '');
	return h('section', { class: 'card', id: 'spam' },
		h('h2', {}, 'Spam filter'),
		h('dl', {},
			h('dt', {}, 'rspamd'), h('dd', {}, state),
			rs.configured ? [h('dt', {}, 'Checked'), h('dd', {}, `${rs.checked} messages, ${rs.unchecked} unchecked`)] : [],
			h('dt', {}, 'Learning'), h('dd', {}, learning),
			h('dt', {}, 'Blocklists'), h('dd', {}, spam.dnsbl.length ? spam.dnsbl.join(', ') : h('span', { class: 'muted' }, 'none')),
			h('dt', {}, 'Greylisting'), h('dd', {}, spam.greylist ? 'on' : h('span', { class: 'muted' }, 'off'))));
}

// The chart of the last day, drawn as SVG from GET /metrics/history: the
// messages received, delivered and refused between two samples, grouped
// into at most 96 bars-worth of points, and the queue's length.
const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
	const el = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
	for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	return el;
}

const SERIES = [
	{ key: 'received', label: 'received' },
	{ key: 'delivered', label: 'delivered' },
	{ key: 'rejected', label: 'refused' },
	{ key: 'queue', label: 'queued', gauge: true },
];

function chartCard(hist) {
	const samples = hist.samples || [];
	if (samples.length < 2)
		return h('section', { class: 'card', id: 'traffic' }, h('h2', {}, 'Last day'),
			h('p', { class: 'muted' }, 'Not enough samples yet: one is taken every ' +
				duration(hist.interval) + '.'));
	// counters become per-step differences (a restart starts them at zero)
	const steps = [];
	for (let i = 1; i < samples.length; i++) {
		const a = samples[i - 1], b = samples[i], p = { time: b.time };
		for (const s of SERIES)
			p[s.key] = s.gauge ? b[s.key] : (b[s.key] >= a[s.key] ? b[s.key] - a[s.key] : b[s.key]);
		steps.push(p);
	}
	// the first sample starts the lines (nothing counted before it)
	const start = { time: samples[0].time };
	for (const s of SERIES) start[s.key] = s.gauge ? samples[0][s.key] : 0;
	const per = Math.ceil(steps.length / 96), points = [start];
	for (let i = 0; i < steps.length; i += per) {
		const grp = steps.slice(i, i + per), p = { time: grp[grp.length - 1].time };
		for (const s of SERIES)
			p[s.key] = s.gauge ? grp[grp.length - 1][s.key] : grp.reduce((n, x) => n + x[s.key], 0);
		points.push(p);
	}
	const W = 600, H = 160, L = 36, B = 18;
	const max = Math.max(1, ...points.flatMap(p => SERIES.map(s => p[s.key])));
	const t0 = points[0].time, t1 = points[points.length - 1].time, span = Math.max(1, t1 - t0);
	const x = t => L + (W - L - 4) * (t - t0) / span, y = v => 4 + (H - B - 8) * (1 - v / max);
	const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart',
		'aria-label': 'Messages over the last day' });
	// colours come from app.css (the CSP allows no inline style)
	g.append(svg('line', { x1: L, y1: y(0), x2: W - 4, y2: y(0), class: 'axis' }),
		svg('text', { x: L - 4, y: y(max) + 8, 'text-anchor': 'end' }, max),
		svg('text', { x: L - 4, y: y(0), 'text-anchor': 'end' }, 0),
		svg('text', { x: L, y: H - 4 }, new Date(t0 * 1000).toLocaleTimeString()),
		svg('text', { x: W - 4, y: H - 4, 'text-anchor': 'end' }, 'now'));
	for (const s of SERIES)
		g.append(svg('polyline', { class: 's-' + s.key,
			points: points.map(p => `${x(p.time).toFixed(1)},${y(p[s.key]).toFixed(1)}`).join(' ') },
			svg('title', {}, s.label)));
	const total = k => s => s.gauge ? points[points.length - 1][k] : points.reduce((n, p) => n + p[k], 0);
	return h('section', { class: 'card', id: 'traffic' },
		h('h2', {}, 'Last day'), g,
		h('ul', { class: 'legend' }, SERIES.map(s => h('li', {},
			h('span', { class: 'swatch s-' + s.key }), `${s.label}: ${total(s.key)(s)}`))));
}

// `mailhub doctor` on demand: it asks DNS and tries outbound port 25, which
// takes seconds, so the server checks in the background and this card polls
// until the check has ended.  What the world sees, problems first, with the
// time of the last check (kept by the server across visits).
const RANK = { fail: 0, warn: 1, info: 2, ok: 3 };
const DOCTOR_POLL_MS = 1000;
function doctorCard() {
	const out = h('div', {}, h('p', { class: 'muted' },
		'Checks DNS (MX, SPF, DKIM, DMARC, reverse DNS), the certificate and outbound port 25, as the world sees them.'));
	let timer = null;
	const show = d => {
		if (d.running) {
			out.replaceChildren(h('p', { class: 'muted', role: 'status' }, 'Checking…',
				d.checked ? ` (last checked ${when(d.checked)})` : ''));
			btn.disabled = true;
			clearTimeout(timer);
			timer = setTimeout(poll, DOCTOR_POLL_MS);
			return;
		}
		btn.disabled = false;
		if (!d.checked) return;		// never checked: the text above stays
		const rows = d.findings.slice().sort((a, b) => RANK[a.status] - RANK[b.status]);
		out.replaceChildren(
			d.error ? h('p', { class: 'bad' }, 'The check failed: ', d.error) : null,
			h('p', { role: 'status' }, d.fail ? h('strong', { class: 'bad' }, `${d.fail} to fix`) : 'Nothing to fix',
				`, ${d.warn} to consider. `, h('small', { class: 'muted' }, `Checked ${when(d.checked)}.`)),
			table(['', 'Where', 'Check', 'Finding'], rows.map(f => h('tr', { class: 'doctor-' + f.status },
				h('td', {}, h('strong', { class: f.status === 'fail' ? 'bad' : f.status === 'ok' ? 'ok' : '' }, f.status)),
				h('td', {}, f.domain || 'server'), h('td', {}, f.check), h('td', { class: 'break' }, f.text))),
			'No findings.'));
	};
	async function poll(run) {
		if (!out.isConnected && !run) return;	// the page was left
		try {
			show(await api('GET', run ? '/doctor?run=1' : '/doctor'));
		} catch (e) {
			btn.disabled = false;
			out.replaceChildren(h('p', { class: 'bad' }, e.message || String(e)));
		}
	}
	const btn = h('button', { type: 'button', class: 'primary', onclick: () => poll(true) }, 'Check now');
	// the last check's findings, if any (this never starts one)
	setTimeout(() => poll(false), 0);
	return h('section', { class: 'card', id: 'doctor' }, h('h2', {}, 'Deliverability check'), out, btn);
}

export async function render() {
	const [s, log, hist] = await Promise.all([api('GET', '/status'), api('GET', '/log?limit=10'),
		api('GET', '/metrics/history')]);
	const listeners = Object.entries(s.listeners || {});
	// a self-signed, expiring or misnamed certificate is said first
	const certWarnings = (s.certificates || []).filter(c => c.status === 'warn' || c.status === 'fail');
	return page('Dashboard',
		certWarnings.length ? h('section', { class: 'card', id: 'cert-warning', role: 'alert' },
			h('h2', {}, 'Certificate'),
			h('ul', { class: 'plain' }, certWarnings.map(c => h('li', {},
				h('strong', { class: c.status === 'fail' ? 'bad' : '' }, c.status === 'fail' ? 'Problem: ' : 'Warning: '),
				c.text)))) : [],
		h('ul', { class: 'stats' },
			stat('Domains', s.domains, '#/domains'),
			stat('Users', s.users, '#/users'),
			stat('Aliases', s.aliases, '#/aliases'),
			stat('Queued messages', s.queue.messages, '#/queue'),
			stat('Mail on disk', bytes(s.disk.messages)),
			stat('Database', bytes(s.disk.database))),
		h('div', { class: 'grid' },
			h('section', { class: 'card' },
				h('h2', {}, 'Server'),
				h('dl', {},
					h('dt', {}, 'Host name'), h('dd', {}, s.hostname),
					h('dt', {}, 'Version'), h('dd', {}, s.version),
					h('dt', {}, 'Up for'), h('dd', {}, duration(s.uptime)),
					h('dt', {}, 'Open recipients'), h('dd', {}, s.queue.open_recipients),
					h('dt', {}, 'Message files'), h('dd', {}, s.disk.message_files))),
			h('section', { class: 'card' },
				h('h2', {}, 'Listeners'),
				table(['Service', 'Address'],
					listeners.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, h('code', {}, v)))),
					'No listeners are configured.')),
			h('section', { class: 'card' },
				h('h2', {}, 'Upstream accounts'),
				h('p', {}, `${s.upstreams.accounts} account${s.upstreams.accounts === 1 ? '' : 's'}, ${s.upstreams.enabled} enabled, `,
					s.upstreams.failing ? h('strong', { class: 'bad' }, `${s.upstreams.failing} failing`) : '0 failing',
					`, ${s.upstreams.fetched} messages fetched.`),
				h('ul', { class: 'plain' }, s.upstreams.list.map(u => h('li', {},
					h('a', { href: '#/upstreams' }, `${u.host} (${u.owner})`), ': ',
					!u.enabled ? h('span', { class: 'muted' }, 'disabled')
						: u.last_error ? h('span', { class: 'bad' }, u.last_error)
						: u.last_ok ? 'OK ' + when(u.last_ok) : h('span', { class: 'muted' }, 'not fetched yet'))))),
			s.spam ? spamCard(s.spam) : []),
		chartCard(hist),
		doctorCard(),
		h('section', { class: 'card' },
			h('h2', {}, 'Recent events ', h('a', { href: '#/log', class: 'more' }, 'all events')),
			table(['Time', 'Level', 'Event'],
				log.events.slice().reverse().map(e => h('tr', { class: 'lvl-' + e.level },
					h('td', { class: 'nowrap' }, when(e.time)), h('td', {}, e.level), h('td', { class: 'mono break' }, e.text))),
				'Nothing has happened yet.')));
}
