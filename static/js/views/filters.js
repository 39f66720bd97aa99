// Filters: the user's Sieve scripts (RFC 5228), which run when mail is
// delivered (over SMTP, and from upstream accounts that opt in).
//
// The rules editor and the vacation form cover the common cases and write
// one script, "filters", which keeps the rules it was made from in its
// first line (a comment), so that the editor can read them back.  The raw
// editor shows and saves any script as text; the server compiles it and
// answers errors with their line numbers, shown under the editor.
import { api } from '../api.js';
import { h, confirmDanger, field, onSubmit, page, table, toast, when } from '../ui.js';

const PANEL_SCRIPT = 'filters';
const MARK = '# mailhub-filters: ';

const FIELDS = { from: 'From', to: 'To or Cc', subject: 'Subject', 'list-id': 'List-Id', size: 'Size', header: 'Other header' };
const OPS = { contains: 'contains', is: 'is', matches: 'matches (* and ?)' };
const SIZE_OPS = { over: 'over', under: 'under' };
const ACTIONS = { move: 'Move to folder', copy: 'Copy to folder', flag: 'Flag', forward: 'Forward to', discard: 'Discard', reply: 'Reply with text' };

// A Sieve string (RFC 5228 §2.4.2): quoted, with \ and " escaped.
export function quote(s) {
	return '"' + String(s).replace(/[\\"]/g, c => '\\' + c) + '"';
}

function test(c) {
	const op = ':' + (OPS[c.op] ? c.op : 'contains');
	switch (c.field) {
	case 'from': return `address ${op} "from" ${quote(c.value)}`;
	case 'to': return `address ${op} ["to", "cc"] ${quote(c.value)}`;
	case 'subject': return `header ${op} "subject" ${quote(c.value)}`;
	case 'list-id': return `header ${op} "list-id" ${quote(c.value)}`;
	case 'size': return `size :${c.op === 'under' ? 'under' : 'over'} ${parseInt(c.value, 10) || 0}K`;
	default: return `header ${op} ${quote(c.header || 'x-unknown')} ${quote(c.value)}`;
	}
}

function action(a, req) {
	switch (a.type) {
	case 'move': req.add('fileinto'); req.add('mailbox'); return `fileinto :create ${quote(a.arg)};`;
	case 'copy': req.add('fileinto'); req.add('mailbox'); req.add('copy'); return `fileinto :copy :create ${quote(a.arg)};`;
	case 'flag': req.add('imap4flags'); return 'addflag "\\\\Flagged";';
	case 'forward': req.add('copy'); return `redirect :copy ${quote(a.arg)};`;
	case 'discard': return 'discard;';
	case 'reply': req.add('vacation'); return `vacation :days 1 ${quote(a.arg)};`;
	default: return '';
	}
}

// The script of a model {rules: [...], vacation: {...}}.
export function toSieve(model) {
	const req = new Set();
	const body = [];
	model.rules.forEach((r, i) => {
		const tests = r.conds.map(test);
		const cond = tests.length === 1 ? tests[0] : `${r.match === 'any' ? 'anyof' : 'allof'} (${tests.join(', ')})`;
		body.push(`# rule ${i + 1}`, `if ${cond} {`);
		// imap4flags: a flag applies to the fileinto and keep after it
		const acts = r.actions.filter(a => a.type === 'flag').concat(r.actions.filter(a => a.type !== 'flag'));
		for (const a of acts) body.push('    ' + action(a, req));
		if (r.stop) body.push('    stop;');
		body.push('}');
	});
	const v = model.vacation;
	if (v && v.on) {
		req.add('vacation');
		const parts = ['vacation :days 1'];
		if (v.subject) parts.push(':subject ' + quote(v.subject));
		const addrs = (v.addresses || '').split(/[\s,]+/).filter(Boolean);
		if (addrs.length) parts.push(':addresses [' + addrs.map(quote).join(', ') + ']');
		const line = parts.join(' ') + ' ' + quote(v.text || 'I am away.') + ';';
		const dates = [];
		if (v.from) dates.push(`currentdate :value "ge" "date" ${quote(v.from)}`);
		if (v.until) dates.push(`currentdate :value "le" "date" ${quote(v.until)}`);
		if (dates.length) {
			req.add('date'); req.add('relational');
			body.push('# vacation', `if allof (${dates.join(', ')}) {`, '    ' + line, '}');
		} else {
			body.push('# vacation', line);
		}
	}
	const head = [MARK + JSON.stringify(model)];
	if (req.size) head.push(`require [${[...req].sort().map(quote).join(', ')}];`);
	return head.concat(body).join('\n') + '\n';
}

function fromSieve(text) {
	const first = (text || '').split('\n', 1)[0];
	if (first.startsWith(MARK)) {
		try { return JSON.parse(first.slice(MARK.length)); } catch { /* hand-edited */ }
	}
	return null;
}

async function save(ctx, name, script, active) {
	await api('PUT', '/sieve/' + encodeURIComponent(name), { script, active });
	toast('Filters saved');
	ctx.refresh();
}

function conditionRow() {
	const fieldSel = h('select', { name: 'field', 'aria-label': 'Field' },
		Object.entries(FIELDS).map(([k, t]) => h('option', { value: k }, t)));
	const opSel = h('select', { name: 'op', 'aria-label': 'Comparison' },
		Object.entries(OPS).map(([k, t]) => h('option', { value: k }, t)));
	const header = h('input', { name: 'header', placeholder: 'Header name', 'aria-label': 'Header name', hidden: true });
	const value = h('input', { name: 'value', placeholder: 'Text', 'aria-label': 'Value', required: true });
	fieldSel.addEventListener('change', () => {
		const size = fieldSel.value === 'size';
		opSel.replaceChildren(...Object.entries(size ? SIZE_OPS : OPS).map(([k, t]) => h('option', { value: k }, t)));
		value.placeholder = size ? 'KiB' : 'Text';
		header.hidden = fieldSel.value !== 'header';
	});
	return h('div', { class: 'cond inline' }, fieldSel, header, opSel, value);
}

function actionRow() {
	const sel = h('select', { name: 'type', 'aria-label': 'Action' },
		Object.entries(ACTIONS).map(([k, t]) => h('option', { value: k }, t)));
	const arg = h('input', { name: 'arg', placeholder: 'Folder', 'aria-label': 'Folder, address or text' });
	sel.addEventListener('change', () => {
		arg.hidden = sel.value === 'flag' || sel.value === 'discard';
		arg.placeholder = { move: 'Folder', copy: 'Folder', forward: 'Address', reply: 'Text' }[sel.value] || '';
	});
	return h('div', { class: 'act inline' }, sel, arg);
}

function ruleForm(ctx, model, active) {
	const conds = h('div', { class: 'conds' }, conditionRow());
	const acts = h('div', { class: 'acts' }, actionRow());
	const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'New rule' },
		h('h2', {}, 'New rule'),
		h('div', { class: 'inline' }, h('label', {}, 'When ',
			h('select', { name: 'match', 'aria-label': 'Match' },
				h('option', { value: 'all' }, 'all'), h('option', { value: 'any' }, 'any')),
			' of these match:')),
		conds,
		h('button', { type: 'button', class: 'small', onclick: () => conds.append(conditionRow()) }, 'Add condition'),
		h('p', {}, 'then:'),
		acts,
		h('button', { type: 'button', class: 'small', onclick: () => acts.append(actionRow()) }, 'Add action'),
		field('Stop here (no later rule applies)', { name: 'stop', type: 'checkbox' }),
		h('p', { class: 'form-error', role: 'alert' }),
		h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add rule')));
	onSubmit(form, async v => {
		const rule = {
			match: v.match,
			stop: v.stop,
			conds: [...conds.children].map(row => ({
				field: row.querySelector('[name=field]').value, op: row.querySelector('[name=op]').value,
				header: row.querySelector('[name=header]').value.trim(), value: row.querySelector('[name=value]').value.trim(),
			})),
			actions: [...acts.children].map(row => ({
				type: row.querySelector('[name=type]').value, arg: row.querySelector('[name=arg]').value.trim(),
			})),
		};
		const m = { ...model, rules: model.rules.concat([rule]) };
		await save(ctx, PANEL_SCRIPT, toSieve(m), true);
	});
	return form;
}

function vacationForm(ctx, model) {
	const v = model.vacation || {};
	const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Vacation reply' },
		h('h2', {}, 'Vacation reply'),
		h('p', {}, 'Answers each sender once a day while it is on; never mailing lists, automatic mail or bounces.'),
		field('Send vacation replies', { name: 'on', type: 'checkbox', checked: !!v.on }),
		field('From (date)', { name: 'from', type: 'date', value: v.from || '' }),
		field('Until (date)', { name: 'until', type: 'date', value: v.until || '' }),
		field('Subject', { name: 'subject', value: v.subject || '', maxlength: 200 }),
		field('Text', { name: 'text', type: 'textarea', rows: 4 }),
		field('My other addresses', { name: 'addresses', value: v.addresses || '' }, 'Mail to these is answered too (space or comma separated).'),
		h('p', { class: 'form-error', role: 'alert' }),
		h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save vacation reply')));
	form.querySelector('textarea').value = v.text || '';
	onSubmit(form, async f => {
		const m = { ...model, vacation: { on: f.on, from: f.from, until: f.until, subject: f.subject, text: f.text, addresses: f.addresses } };
		await save(ctx, PANEL_SCRIPT, toSieve(m), true);
	});
	return form;
}

function rawEditor(ctx, name, text, isNew) {
	const errors = h('pre', { class: 'sieve-errors', role: 'alert', 'aria-live': 'polite' });
	const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Raw Sieve' },
		h('h2', {}, 'Sieve script'),
		field('Name', { name: 'name', value: name, required: true, maxlength: 128, readonly: !isNew }),
		field('Script', { name: 'script', type: 'textarea', rows: 14, spellcheck: 'false', class: 'code' }),
		field('Active (run on delivery)', { name: 'active', type: 'checkbox' }),
		errors,
		h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save script')));
	form.querySelector('textarea').value = text;
	onSubmit(form, async v => {
		errors.textContent = '';
		try {
			await api('PUT', '/sieve/' + encodeURIComponent(v.name), { script: v.script, active: v.active });
		} catch (err) {
			// The compiler's "line N: error: ..." lines.
			if (err.status === 422) { errors.textContent = err.message.replace(/^field 'script': /, ''); return; }
			throw err;
		}
		toast('Script saved');
		location.hash = '#/filters';
		ctx.refresh();
	}, 'name');
	return form;
}

export async function render(ctx) {
	const list = await api('GET', '/sieve');
	const mine = list.find(s => s.name === PANEL_SCRIPT);
	let model = { rules: [], vacation: null };
	if (mine) {
		const s = await api('GET', '/sieve/' + PANEL_SCRIPT);
		model = fromSieve(s.script) || model;
	}
	if (ctx.args[0] === 'edit') {
		const name = ctx.args[1];
		const s = name ? await api('GET', '/sieve/' + encodeURIComponent(name)) : { name: '', script: 'require ["fileinto"];\n\n' };
		return page('Filters', h('p', {}, h('a', { href: '#/filters' }, 'Back to filters')), rawEditor(ctx, s.name, s.script, !name));
	}
	const parts = [h('p', {}, 'Filters sort your incoming mail as it arrives. One script runs: the rules and the vacation reply below make the script "filters"; a script of your own (or from a Sieve editor over ManageSieve) can run instead.')];
	parts.push(table(['Rule', ''], model.rules.map((r, i) => h('tr', {},
		h('td', {}, `${r.conds.map(c => `${FIELDS[c.field] || c.field}${c.field === 'header' ? ' ' + c.header : ''} ${c.op} "${c.value}"`).join(r.match === 'any' ? ' or ' : ' and ')} → ${r.actions.map(a => ACTIONS[a.type] + (a.arg ? ' ' + a.arg : '')).join(', ')}`),
		h('td', { class: 'acts' }, h('button', { type: 'button', class: 'small danger', onclick: async () => {
			const m = { ...model, rules: model.rules.filter((_, k) => k !== i) };
			try { await save(ctx, PANEL_SCRIPT, toSieve(m), true); } catch (e) { toast(e.message, 'bad'); }
		} }, 'Remove')))), 'No rules yet.'));
	parts.push(ruleForm(ctx, model), vacationForm(ctx, model));
	parts.push(h('h2', {}, 'Scripts'));
	parts.push(table(['Name', 'Changed', 'State', ''], list.map(s => h('tr', {},
		h('td', {}, s.name), h('td', {}, when(s.updated)), h('td', {}, s.active ? 'active' : ''),
		h('td', { class: 'acts' },
			h('a', { href: '#/filters/edit/' + encodeURIComponent(s.name), class: 'button small' }, 'Edit'),
			s.active ? h('button', { type: 'button', class: 'small', onclick: async () => {
				await api('POST', `/sieve/${encodeURIComponent(s.name)}/deactivate`); toast('No script runs now'); ctx.refresh();
			} }, 'Deactivate') : h('button', { type: 'button', class: 'small', onclick: async () => {
				await api('POST', `/sieve/${encodeURIComponent(s.name)}/activate`); toast('Script activated'); ctx.refresh();
			} }, 'Activate'),
			s.active ? null : h('button', { type: 'button', class: 'small danger', onclick: async () => {
				if (!await confirmDanger('Delete script', `Delete "${s.name}"?`)) return;
				try { await api('DELETE', '/sieve/' + encodeURIComponent(s.name)); toast('Script deleted'); ctx.refresh(); }
				catch (e) { toast(e.message, 'bad'); }
			} }, 'Delete')))), 'No scripts yet.'));
	parts.push(h('p', {}, h('a', { href: '#/filters/edit', class: 'button' }, 'New script')));
	return page('Filters', ...parts);
}
