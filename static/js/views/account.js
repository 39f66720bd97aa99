// The caller's own account: who they are, their quota, their password.
import { api, enc } from '../api.js';
import { h, bytes, field, onSubmit, page, toast } from '../ui.js';

export async function render(ctx) {
	const u = await api('GET', `/users/${enc(ctx.me.user)}`);
	const form = h('form', { class: 'card narrow', novalidate: true },
		h('h2', {}, 'Change password'),
		field('Current password', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true }),
		field('New password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true }),
		field('New password again', { name: 'repeat', type: 'password', autocomplete: 'new-password', required: true }),
		h('p', { class: 'form-error', role: 'alert' }),
		h('button', { type: 'submit', class: 'primary' }, 'Change password'));
	onSubmit(form, async v => {
		if (v.password !== v.repeat) {
			const e = new Error('The two new passwords differ');
			e.status = 422; e.field = 'repeat';
			throw e;
		}
		await api('PATCH', `/users/${enc(u.address)}`, { current_password: v.current_password, password: v.password });
		form.reset();
		toast('Your password has been changed');
	}, 'password');
	return page('My account',
		h('section', { class: 'card narrow' },
			h('dl', {},
				h('dt', {}, 'Address'), h('dd', {}, u.address),
				h('dt', {}, 'Role'), h('dd', {}, u.admin ? 'administrator' : 'user'),
				h('dt', {}, 'Mail stored'), h('dd', {}, `${bytes(u.used)} of ${u.quota ? bytes(u.quota) : 'unlimited'}`))),
		form);
}
