// The dashboard: listeners, counts, queue, upstreams, disk, recent events.
import { api } from '../api.js';
import { h, bytes, duration, page, table, when } from '../ui.js';

function stat(label, value, href) {
	const body = [h('span', { class: 'label' }, label), h('strong', {}, value)];
	return h('li', { class: 'stat' }, href ? h('a', { href }, body) : h('div', {}, body));
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
						: u.last_ok ? 'OK ' + when(u.last_ok) : h('span', { class: 'muted' }, 'not fetched yet')))))),
		h('section', { class: 'card' },
			h('h2', {}, 'Recent events ', h('a', { href: '#/log', class: 'more' }, 'all events')),
			table(['Time', 'Level', 'Event'],
				log.events.slice().reverse().map(e => h('tr', { class: 'lvl-' + e.level },
					h('td', { class: 'nowrap' }, when(e.time)), h('td', {}, e.level), h('td', { class: 'mono break' }, e.text))),
				'Nothing has happened yet.')));
}
