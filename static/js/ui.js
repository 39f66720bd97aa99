// Small DOM helpers: elements are built with h(), never from HTML strings,
// so text from the server can never become markup.

export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === false || v === null || v === undefined) continue;
		if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
		else if (k === 'class') el.className = v;
		else if (v === true) el.setAttribute(k, '');
		else el.setAttribute(k, v);
	}
	for (const c of children.flat()) {
		if (c === null || c === undefined || c === false) continue;
		el.append(c instanceof Node ? c : String(c));
	}
	return el;
}

export function bytes(n) {
	if (!n) return '0 B';
	const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
	return `${n < 10 && i ? n.toFixed(1) : Math.round(n)} ${u[i]}`;
}

export function when(iso) {
	if (!iso) return '—';
	const d = new Date(iso);
	// Today's events need only the time: narrow screens keep their room.
	if (d.toDateString() === new Date().toDateString())
		return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
	return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function duration(s) {
	const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
	return d ? `${d}d ${hh}h` : hh ? `${hh}h ${m}m` : `${m}m ${s % 60}s`;
}

// A status line for the whole page (polite live region).
export function toast(text, kind = 'ok') {
	const t = document.getElementById('toast');
	t.textContent = text;
	t.className = 'toast ' + kind;
	clearTimeout(toast.timer);
	toast.timer = setTimeout(() => { t.className = 'toast'; }, 4000);
}

// A labelled input with a place for its error right beside it.
export function field(label, attrs, hint) {
	const id = 'f-' + attrs.name + '-' + (++field.n);
	const input = attrs.type === 'textarea'
		? h('textarea', { ...attrs, type: null, id, 'aria-describedby': id + '-e' })
		: h('input', { ...attrs, id, 'aria-describedby': id + '-e' });
	const box = h('div', { class: 'field' + (attrs.type === 'checkbox' ? ' check' : '') },
		attrs.type === 'checkbox' ? [input, h('label', { for: id }, label)]
			: [h('label', { for: id }, label), input],
		hint ? h('small', { class: 'hint' }, hint) : null,
		h('small', { class: 'error', id: id + '-e', role: 'alert' }));
	return box;
}
field.n = 0;

export function clearErrors(form) {
	for (const e of form.querySelectorAll('.error')) e.textContent = '';
	for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

// Shows err beside the field it names (or at the form's foot) and focuses it.
export function showError(form, err, fallbackField) {
	const name = err.field || fallbackField;
	const input = name && form.querySelector(`[name="${name}"]`);
	const slot = input ? form.querySelector('#' + input.id + '-e') : form.querySelector('.form-error');
	if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
	if (slot) slot.textContent = err.message;
	else toast(err.message, 'bad');
}

// Wires a form: collects values, runs submit(values), shows errors in place.
export function onSubmit(form, submit, fallbackField) {
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		clearErrors(form);
		const btn = form.querySelector('button[type=submit]');
		if (btn) btn.disabled = true;
		try {
			await submit(values(form));
		} catch (err) {
			if (err.status === undefined) throw err;
			showError(form, err, fallbackField);
		} finally {
			if (btn) btn.disabled = false;
		}
	});
	return form;
}

export function values(form) {
	const v = {};
	for (const el of form.elements) {
		if (!el.name) continue;
		v[el.name] = el.type === 'checkbox' ? el.checked : el.value;
	}
	return v;
}

// A modal dialog (native <dialog>: focus is trapped, Esc closes it).
export function dialog(title, content, { onClose, wide } = {}) {
	const d = h('dialog', { 'aria-label': title, class: wide ? 'wide' : null },
		h('header', {}, h('h2', {}, title),
			h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: () => d.close() }, '×')),
		content);
	d.addEventListener('close', () => { d.remove(); if (onClose) onClose(); });
	document.body.append(d);
	d.showModal();
	const first = d.querySelector('input, textarea, select, button.primary');
	if (first) first.focus();
	return d;
}

// Asks before something that cannot be undone; resolves true or false.
export function confirmDanger(title, text, action = 'Delete') {
	return new Promise(resolve => {
		let ok = false;
		const d = dialog(title, h('div', {},
			h('p', {}, text),
			h('div', { class: 'actions' },
				h('button', { type: 'button', onclick: () => d.close() }, 'Cancel'),
				h('button', { type: 'button', class: 'danger primary', onclick: () => { ok = true; d.close(); } }, action))),
		{ onClose: () => resolve(ok) });
	});
}

export async function copy(text, what = 'Copied') {
	try {
		await navigator.clipboard.writeText(text);
		toast(what + ' to the clipboard');
	} catch {
		toast('Copy is not allowed here: select the text instead', 'bad');
	}
}

export function table(heads, rows, empty) {
	if (!rows.length) return h('p', { class: 'empty' }, empty);
	return h('div', { class: 'table' }, h('table', {},
		h('thead', {}, h('tr', {}, heads.map(t => h('th', { scope: 'col' }, t)))),
		h('tbody', {}, rows)));
}

export function page(title, ...children) {
	return h('section', { class: 'page', 'aria-labelledby': 'page-title' },
		h('h1', { id: 'page-title', tabindex: '-1' }, title), children);
}
