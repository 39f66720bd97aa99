// Domains: list, add, remove, and the DNS records to publish for each.
import { api, enc } from '../api.js';
import { h, confirmDanger, copy, field, onSubmit, page, table, toast, when } from '../ui.js';

// RFC 1035 §3.3.14: a TXT record is strings of at most 255 bytes each, so
// a long value (an RSA DKIM key) is written as several quoted strings.
function zoneLine(r) {
	const v = r.type === 'TXT' ? (r.value.match(/.{1,255}/g) || ['']).map(x => `"${x}"`).join(' ') : r.value;
	return `${r.name}\t3600\tIN\t${r.type}\t${v}`;
}

async function dns(ctx, name) {
	const d = await api('GET', `/domains/${enc(name)}/dns`);
	const zone = d.records.map(zoneLine).join('\n');
	return page(`DNS for ${d.domain}`,
		h('p', {}, h('a', { href: '#/domains' }, '← All domains')),
		h('p', {}, `Publish these records at your DNS provider so that mail for ${d.domain} reaches ${d.hostname} and mail clients find their settings.`),
		h('div', { class: 'table' }, h('table', { class: 'dns' },
			h('thead', {}, h('tr', {}, ['Purpose', 'Name', 'Type', 'Value', ''].map(t => h('th', { scope: 'col' }, t)))),
			h('tbody', {}, d.records.map(r => h('tr', {},
				h('td', {}, r.purpose),
				h('td', { class: 'mono' }, r.name),
				h('td', {}, r.type),
				h('td', { class: 'mono break' }, r.value),
				h('td', {}, h('button', { type: 'button', class: 'small', onclick: () => copy(r.value, 'Value copied'), 'aria-label': `Copy ${r.type} value for ${r.name}` }, 'Copy'))))))),
		h('section', { class: 'card' },
			h('h2', {}, 'DKIM'),
			h('p', { class: 'notice' }, d.dkim.available
				? `Outgoing mail of ${d.domain} is signed with the key${d.dkim.selectors.length > 1 ? 's' : ''} ${d.dkim.selectors.join(' and ')}: publish the _domainkey records above.`
				: 'No DKIM record to publish: ' + d.dkim.reason + '.')),
		h('section', { class: 'card' },
			h('h2', {}, 'As a zone file ', h('button', { type: 'button', class: 'small', onclick: () => copy(zone, 'Zone copied') }, 'Copy all')),
			h('pre', { class: 'zone', tabindex: '0' }, zone)));
}

// The sender checks of port 25 over the last day (GET /domains: inbound).
function inbound(c) {
	if (!c) return '–';
	if (!c.messages) return 'no mail checked';
	return `${c.messages} checked: SPF pass ${c.spf_pass}, DKIM pass ${c.dkim_pass}, `
		+ `DMARC pass ${c.dmarc_pass} / fail ${c.dmarc_fail}, refused ${c.refused}, Junk ${c.junk}`;
}

export async function render(ctx) {
	if (ctx.args[0]) return dns(ctx, ctx.args[0]);
	const list = await api('GET', '/domains');
	const form = h('form', { class: 'inline card', novalidate: true },
		field('New domain', { name: 'name', placeholder: 'example.org', required: true, autocomplete: 'off' }),
		h('button', { type: 'submit', class: 'primary' }, 'Add domain'));
	onSubmit(form, async v => {
		await api('POST', '/domains', { name: v.name.trim() });
		toast(`Domain ${v.name.trim()} added`);
		ctx.refresh();
	}, 'name');
	return page('Domains', form,
		table(['Domain', 'Added', 'Inbound mail, last 24 h', ''], list.map(d => h('tr', {},
			h('td', {}, h('a', { href: `#/domains/${enc(d.name)}` }, d.name)),
			h('td', {}, when(d.created)),
			h('td', {}, inbound(d.inbound)),
			h('td', { class: 'acts' },
				h('a', { class: 'button small', href: `#/domains/${enc(d.name)}` }, 'DNS records'),
				h('button', { type: 'button', class: 'small danger', onclick: async () => {
					if (!await confirmDanger('Remove domain', `Remove ${d.name}? Its users and aliases must be deleted first.`, 'Remove')) return;
					try { await api('DELETE', `/domains/${enc(d.name)}`); toast(`${d.name} removed`); ctx.refresh(); }
					catch (e) { toast(e.message, 'bad'); }
				} }, 'Remove')))),
		'No domains yet: add the domain your addresses end in.'));
}
