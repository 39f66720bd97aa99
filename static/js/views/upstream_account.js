// One upstream account's page (#/upstreams/ID): how the account and each
// of its folders are doing: the last complete sync, the messages the
// server's folder held then, how new mail there is noticed (pushed by IDLE
// or NOTIFY, or checked on the interval), and the last error, in plain words.
import { api } from '../api.js';
import { h, page, table, toast, when } from '../ui.js';

function every(seconds) {
	const m = Math.round(seconds / 60);
	return seconds < 60 ? `every ${seconds} seconds` : m === 1 ? 'every minute' : `every ${m} minutes`;
}

function push(mode, u) {
	switch (mode) {
	case 'idle': return h('span', { class: 'good' }, 'pushed at once (IDLE)');
	case 'notify': return h('span', { class: 'good' }, 'pushed at once (NOTIFY)');
	case 'off': return h('span', { class: 'muted' }, u.state.reconnect ? 'off until reconnected' : 'off (account disabled)');
	default: return `checked ${every(u.interval)}`;
	}
}

function summary(u) {
	if (!u.enabled) return h('p', { class: 'notice' }, 'This account is disabled: nothing is fetched.');
	if (u.state.last_error)
		return h('p', { class: 'notice bad' }, h('strong', {}, 'The last fetch failed: '), u.state.last_error,
			u.state.last_ok ? ` (it last worked ${when(u.state.last_ok)})` : '');
	if (u.state.last_ok)
		return h('p', { class: 'notice good' }, `Fetched without trouble, last ${when(u.state.last_ok)}; `,
			`${u.state.fetched} message${u.state.fetched === 1 ? '' : 's'} so far.`);
	return h('p', { class: 'notice' }, 'Not fetched yet.');
}

export async function render(ctx, id) {
	const [u, folders] = await Promise.all([api('GET', `/upstreams/${id}`), api('GET', `/upstreams/${id}/folders`)]);
	const mode = [u.protocol.toUpperCase(), u.two_way ? 'two-way sync' : u.keep ? 'mail left on the server' : 'mail moved here',
		u.mirror ? `one local folder per server folder under ${u.target}` : `into ${u.target}`].join(', ');
	return page(`${u.username} at ${u.host}`,
		h('p', {}, h('a', { href: '#/upstreams' }, ctx.me.admin ? '← All upstream accounts' : '← My other accounts')),
		h('p', { class: 'hint' }, mode, ctx.me.admin ? ` · owner ${u.owner}` : ''),
		summary(u),
		h('p', {}, h('button', { type: 'button', class: 'small', onclick: async () => {
			try {
				await api('POST', `/upstreams/${u.id}/fetch`);
				toast('Fetching now');
				setTimeout(ctx.refresh, 1500);
			} catch (e) { toast(e.message, 'bad'); }
		} }, 'Fetch now')),
		h('section', { 'aria-label': 'Folders' },
			h('h2', {}, 'Folders'),
			u.protocol === 'pop3' ? h('p', { class: 'muted' }, 'A POP3 account has one mailbox and no folders.')
				: table(['Folder', 'Goes to', 'Last sync', 'Messages', 'New mail', 'Last error'], folders.map(f => h('tr', {},
					h('td', {}, f.folder),
					h('td', {}, f.local),
					h('td', {}, f.last_sync ? when(f.last_sync) : h('span', { class: 'muted' }, 'never')),
					h('td', {}, f.messages === null ? '—' : String(f.messages)),
					h('td', {}, push(f.push, u)),
					h('td', { class: 'break' }, f.last_error ? h('span', { class: 'bad' }, f.last_error)
						: h('span', { class: 'muted' }, 'none')))),
				'No folder synced yet.')));
}
