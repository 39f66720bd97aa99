// Import mail from another IMAP account (the old provider), in the
// background: the daemon copies every folder with its flags and dates, and
// this page follows it with a progress bar until it ends.  Leaving the page
// does not stop it; cancelling does.  An admin may import for any user.
import { api, enc } from '../api.js';
import { h, confirmDanger, field, onSubmit, page, toast, when } from '../ui.js';

const POLL_MS = 1000;
const split = text => text.split(/[,\n]+/).map(s => s.trim()).filter(Boolean);

function select(label, name, options, value) {
	const id = 'f-' + name;
	return h('div', { class: 'field' },
		h('label', { for: id }, label),
		h('select', { id, name, 'aria-describedby': id + '-e' },
			options.map(([v, t]) => h('option', { value: v, selected: v === value }, t))),
		h('small', { class: 'error', id: id + '-e', role: 'alert' }));
}

const states = { running: 'Running', done: 'Finished', failed: 'Stopped on an error', cancelled: 'Cancelled' };

// The job's card: state, progress bar, counts, errors.
function status(job, onCancel) {
	const p = job.progress;
	const total = p.messages_total, done = Math.min(p.messages_done, total);
	const bar = h('progress', { id: 'import-progress', max: total || 1, value: job.state === 'done' && !total ? 1 : done, 'aria-label': 'Import progress' });
	return h('div', { class: 'card', id: 'import-status', 'data-state': job.state },
		h('h2', {}, 'Import from ', job.host, ' (', job.username, ')'),
		h('p', { role: 'status' }, h('strong', { id: 'import-state' }, states[job.state] || job.state),
			job.state === 'running' && job.folder ? ` — folder ${job.folder}` : '',
			job.resumed ? ` (resumed ${job.resumed}× after a restart)` : ''),
		bar,
		h('p', { id: 'import-counts' },
			`${done} of ${total} messages, ${p.folders_done} of ${p.folders_total} folders. `,
			`${job.imported} imported, ${job.skipped} already there`,
			job.failed ? `, ${job.failed} failed` : '', '.'),
		h('p', { class: 'hint' }, 'Started ', when(job.started), ' by ', job.started_by,
			job.finished ? ['; ended ', when(job.finished)] : '', '.'),
		job.errors.length ? h('div', { class: 'notice bad' }, h('strong', {}, 'Errors:'),
			h('ul', { id: 'import-errors' }, job.errors.map(e => h('li', {}, e)))) : null,
		job.state === 'running' ? h('div', { class: 'actions' },
			h('button', { type: 'button', class: 'danger', onclick: onCancel }, 'Cancel import')) : null);
}

export async function render(ctx) {
	const who = ctx.args[0] || ctx.me.user;
	const base = `/users/${enc(who)}/import`;
	let job = null;
	try { job = await api('GET', base); } catch (e) { if (e.status !== 404) throw e; }
	const box = h('div', {});
	let timer = null;
	const show = j => {
		job = j;
		box.replaceChildren(j ? status(j, cancel) : h('p', { class: 'empty' }, 'No import yet.'));
		clearTimeout(timer);
		if (j && j.state === 'running') timer = setTimeout(poll, POLL_MS);
	};
	async function poll() {
		if (!box.isConnected) return;	// the page was left
		try { show(await api('GET', base)); }
		catch (e) { toast(e.message, 'bad'); timer = setTimeout(poll, POLL_MS * 5); }
	}
	async function cancel() {
		if (!await confirmDanger('Cancel import', 'Stop the import? What came in stays; starting it again later brings only what is missing.', 'Stop import')) return;
		try { show(await api('DELETE', base)); toast('Import cancelled'); }
		catch (e) { toast(e.message, 'bad'); }
	}
	const form = h('form', { class: 'card', novalidate: true, id: 'import-form' },
		h('h2', {}, 'Start an import'),
		ctx.me.admin ? field('For user', { name: 'user', type: 'email', value: who, autocomplete: 'off' }) : null,
		h('div', { class: 'row' },
			field('IMAP server', { name: 'host', placeholder: 'imap.example.net', required: true, autocomplete: 'off' }),
			field('Port', { name: 'port', inputmode: 'numeric', placeholder: '993', autocomplete: 'off' }),
			select('Security', 'tls', [['implicit', 'TLS (993)'], ['starttls', 'STARTTLS (143)'], ['none', 'none']], 'implicit'),
			select('Certificate', 'tls_verify', [['system', 'check it'], ['off', 'do not check']], 'system')),
		h('div', { class: 'row' },
			field('Username', { name: 'username', required: true, autocomplete: 'off' }),
			field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' },
				'Used for this import only, never shown again.')),
		field('Only these folders', { name: 'folders', placeholder: 'all folders', autocomplete: 'off' }, 'Comma-separated; empty: every folder.'),
		h('p', { class: 'form-error', role: 'alert' }),
		h('button', { type: 'submit', class: 'primary' }, 'Start import'));
	onSubmit(form, async v => {
		const target = ctx.me.admin && v.user.trim() ? v.user.trim() : who;
		const body = { host: v.host.trim(), tls: v.tls, tls_verify: v.tls_verify, username: v.username, password: v.password };
		if (v.port.trim()) {
			body.port = Number(v.port);
			if (!Number.isInteger(body.port)) { const e = new Error("field 'port' must be a whole number"); e.status = 422; e.field = 'port'; throw e; }
		}
		if (split(v.folders).length) body.folders = split(v.folders);
		const j = await api('POST', `/users/${enc(target)}/import`, body);
		form.reset();
		toast('Import started');
		if (target !== who) { location.hash = '#/import/' + enc(target); return; }
		show(j);
	}, 'host');
	show(job);
	return page('Import mail',
		h('p', {}, 'Copy the mail of another account (your old provider) into ',
			who === ctx.me.user ? 'yours' : h('strong', {}, who),
			': every folder, with its flags and dates. It runs on the server: you may leave this page. ',
			'Running it again brings only what is missing.'),
		box, form);
}
