// The outbound queue: what waits to be relayed, retry now, or drop; and
// what is held (rspamd scored it as spam) until an admin releases it.
import { api } from '../api.js';
import { h, bytes, confirmDanger, dialog, page, table, toast, when } from '../ui.js';

async function details(id) {
	const m = await api('GET', `/queue/${id}`);
	dialog(`Message ${m.qid || m.id}`, h('div', {},
		h('dl', {}, h('dt', {}, 'From'), h('dd', {}, m.sender || '<>'),
			h('dt', {}, 'Size'), h('dd', {}, bytes(m.size)),
			h('dt', {}, 'Queued'), h('dd', {}, when(m.created))),
		table(['Recipient', 'State', 'Attempts', 'Next try', 'Last reply'], m.recipient_list.map(r => h('tr', {},
			h('td', {}, r.address), h('td', {}, r.state), h('td', {}, r.attempts),
			h('td', {}, when(r.next_attempt)), h('td', { class: 'mono break' }, r.last_reply || '—'))), 'No recipients.')),
	{ wide: true });
}

export async function render(ctx) {
	const list = await api('GET', '/queue');
	const act = (label, fn, cls = '') => h('button', { type: 'button', class: 'small ' + cls, onclick: async () => {
		try { await fn(); ctx.refresh(); } catch (e) { toast(e.message, 'bad'); }
	} }, label);
	return page('Outbound queue',
		h('p', {}, h('button', { type: 'button', onclick: () => ctx.refresh() }, 'Refresh')),
		table(['Queued', 'From', 'Recipients', 'Size', 'Next try', ''], list.map(m => h('tr', {},
			h('td', { class: 'nowrap' }, when(m.created)),
			h('td', {}, m.sender || '<>'),
			h('td', {}, `${m.open} open of ${m.recipients}`, m.held ? h('strong', { class: 'bad' }, ` (${m.held} held as spam)`) : null),
			h('td', {}, bytes(m.size)),
			h('td', { class: 'nowrap' }, when(m.next_attempt)),
			h('td', { class: 'acts' },
				h('button', { type: 'button', class: 'small', onclick: () => details(m.id).catch(e => toast(e.message, 'bad')) }, 'Details'),
				m.held ? act('Release', async () => {
					if (!await confirmDanger('Release message', 'rspamd scored this message as spam. Send it anyway?', 'Release')) return;
					await api('POST', `/queue/${m.id}/release`);
					toast('Released: it goes out now');
				}) : act('Retry now', async () => { await api('POST', `/queue/${m.id}/retry`); toast('Due now'); }),
				act('Delete', async () => {
					if (!await confirmDanger('Delete message', 'Drop this message? Its recipients will not get it and no bounce is sent.')) return;
					await api('DELETE', `/queue/${m.id}`);
					toast('Message deleted');
				}, 'danger')))),
		'The queue is empty: everything has been delivered.'));
}
