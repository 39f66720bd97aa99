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

export async function render() {
	const [s, log] = await Promise.all([api('GET', '/status'), api('GET', '/log?limit=10')]);
	const listeners = Object.entries(s.listeners || {});
	return page('Dashboard',
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
		h('section', { class: 'card' },
			h('h2', {}, 'Recent events ', h('a', { href: '#/log', class: 'more' }, 'all events')),
			table(['Time', 'Level', 'Event'],
				log.events.slice().reverse().map(e => h('tr', { class: 'lvl-' + e.level },
					h('td', { class: 'nowrap' }, when(e.time)), h('td', {}, e.level), h('td', { class: 'mono break' }, e.text))),
				'Nothing has happened yet.')));
}
