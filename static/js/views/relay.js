// Outgoing mail: direct delivery by MX, or through a smarthost; and per
// destination domain, how the last delivery went (TLS, MTA-STS, DANE).
import { api } from '../api.js';
import { h, field, onSubmit, page, table, toast, when } from '../ui.js';

// RFC 8461 and RFC 7672 states in plain words; anything else as it is.
const STS = { enforce: 'enforced', testing: 'testing (reports only)', none: 'none' };
const DANE = { verified: 'verified', failed: 'failed', none: 'none' };

function domains(list) {
	return h('section', { class: 'card', 'aria-labelledby': 'dest-title' },
		h('h2', { id: 'dest-title' }, 'Destination domains'),
		h('p', { class: 'hint' }, 'How mail to each domain last went: the TLS version used, whether the domain’s MTA-STS policy and DANE (TLSA) records applied, and the last error.'),
		table(['Domain', 'TLS', 'MTA-STS', 'DANE', 'Last delivered', 'Last error'], list.map(d => h('tr', {},
			h('td', {}, d.domain),
			h('td', { class: d.tls === 'none' ? 'bad' : '' }, d.tls === 'none' ? 'none' : d.tls),
			h('td', {}, STS[d.mta_sts] || d.mta_sts),
			h('td', { class: d.dane === 'failed' ? 'bad' : '' }, DANE[d.dane] || d.dane),
			h('td', { class: 'nowrap' }, d.last_ok ? when(d.last_ok) : 'never'),
			h('td', { class: 'mono break' }, d.last_error || '—'))),
		'No mail has left for another domain yet.'));
}

// A report's date range by its days (RFC 8460 §4.1: usually one UTC day).
function period(start, end) {
	const a = start.slice(0, 10), b = end.slice(0, 10);
	return a === b ? a : `${a} – ${b}`;
}

function reports(list) {
	return h('section', { class: 'card', 'aria-labelledby': 'rpt-title' },
		h('h2', { id: 'rpt-title' }, 'TLS reports received'),
		h('p', { class: 'hint' }, 'What other mail servers report (RFC 8460) about the TLS of mail they sent to your domains, by mail to postmaster or by HTTPS.'),
		table(['Received', 'From', 'By', 'Period', 'Domain', 'Policy', 'Sessions OK', 'Failed', 'Failures'], list.map(x => h('tr', {},
			h('td', { class: 'nowrap' }, when(x.received)),
			h('td', {}, x.organization),
			h('td', {}, x.via === 'mail' ? 'mail' : 'HTTPS'),
			h('td', { class: 'nowrap', title: `${x.start} – ${x.end}` }, period(x.start, x.end)),
			h('td', {}, x.policy_domain),
			h('td', {}, x.policy_type),
			h('td', {}, String(x.success)),
			h('td', { class: x.failure > 0 ? 'bad' : '' }, String(x.failure)),
			h('td', { class: 'mono' }, x.details || '—'))),
		'No TLS report has been received.'));
}

export async function render(ctx) {
	const [r, dest, rpt, ups] = await Promise.all([api('GET', '/relay'), api('GET', '/relay/domains'),
		api('GET', '/relay/tls-reports'), api('GET', '/upstreams')]);
	// An upstream account signed in with OAuth2 (Gmail, Outlook.com) may
	// lend its grant to the smarthost of the same provider.
	const grants = ups.filter(u => u.auth === 'oauth2');
	const sh = r.smarthost || { host: '', port: 465, tls: 'implicit', username: '' };
	const mode = h('fieldset', {},
		h('legend', {}, 'How mail leaves this server'),
		['direct', 'smarthost'].map(m => h('label', { class: 'radio' },
			h('input', { type: 'radio', name: 'mode', value: m, checked: r.mode === m, onchange: sync }),
			m === 'direct' ? ' Directly to each recipient’s mail server (needs port 25 open outbound)' : ' Through a smarthost (your provider’s SMTP server)')));
	const tls = h('div', { class: 'field' }, h('label', { for: 'relay-tls' }, 'Security'),
		h('select', { id: 'relay-tls', name: 'tls', 'aria-describedby': 'relay-tls-e' },
			h('option', { value: 'implicit', selected: sh.tls === 'implicit' }, 'TLS (port 465)'),
			h('option', { value: 'starttls', selected: sh.tls === 'starttls' }, 'STARTTLS (port 587)')),
		h('small', { class: 'error', id: 'relay-tls-e', role: 'alert' }));
	const login = grants.length === 0 ? null : h('div', { class: 'field' }, h('label', { for: 'relay-login' }, 'Log in with'),
		h('select', { id: 'relay-login', name: 'login', 'aria-describedby': 'relay-login-e', onchange: () => sync() },
			h('option', { value: 'password', selected: !sh.oauth_upstream }, 'a username and password (or no login)'),
			grants.map(u => h('option', { value: String(u.id), selected: sh.oauth_upstream === u.id },
				`the OAuth2 sign-in of ${u.username} at ${u.host} (${u.owner})`))),
		h('small', { class: 'hint' }, 'An account connected with OAuth2 can log in to its provider’s SMTP server too; its token is renewed as needed.'),
		h('small', { class: 'error', id: 'relay-login-e', role: 'alert' }));
	const secret = h('div', {},
		field('Username', { name: 'username', value: sh.username || '', autocomplete: 'off', spellcheck: 'false' }, 'Empty: no login.'),
		field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', placeholder: sh.password_set ? 'unchanged' : '' },
			sh.password_set ? 'Leave empty to keep the stored password.' : 'Stored encrypted; never shown again.'));
	const details = h('div', {},
		field('Smarthost', { name: 'host', value: sh.host, placeholder: 'smtp.provider.net', autocomplete: 'off', spellcheck: 'false' }),
		field('Port', { name: 'port', inputmode: 'numeric', value: String(sh.port) }),
		tls, login, secret);
	const form = h('form', { class: 'card narrow', novalidate: true }, mode, details,
		h('p', { class: 'form-error', role: 'alert' }),
		h('button', { type: 'submit', class: 'primary' }, 'Save'),
		r.smarthost ? h('p', { class: 'hint' }, `Changed ${when(r.smarthost.updated)}.`) : null);
	function sync() {
		details.hidden = form.querySelector('input[name=mode]:checked').value !== 'smarthost';
		secret.hidden = login !== null && form.elements.login.value !== 'password';
	}
	sync();
	onSubmit(form, async v => {
		const direct = form.querySelector('input[name=mode]:checked').value === 'direct';
		const body = direct ? { smarthost: null } : { smarthost: { host: v.host.trim(), port: Number(v.port), tls: v.tls } };
		const grant = !direct && login !== null && v.login !== 'password';
		if (grant) body.smarthost.oauth_upstream = Number(v.login);
		if (!direct && !grant && v.username.trim()) body.smarthost.username = v.username.trim();
		if (!direct && !grant && v.password) body.smarthost.password = v.password;
		await api('PUT', '/relay', body);
		toast(direct ? 'Mail now leaves directly' : `Mail now leaves through ${v.host.trim()}`);
		ctx.refresh();
	}, 'host');
	return page('Outgoing mail', form, domains(dest.domains), reports(rpt.reports));
}
