// The caller's own account: who they are, their quota, their password, and
// two-factor sign-in (TOTP): enrolment, recovery codes, turning it off.
import { api, enc } from '../api.js';
import { h, bytes, copy, dialog, field, onSubmit, page, toast } from '../ui.js';

// The secret in groups of four, as authenticator apps print it.
const grouped = s => s.replace(/(.{4})(?=.)/g, '$1 ');

function recoveryCodes(ctx, codes) {
	dialog('Recovery codes', h('div', {},
		h('p', {}, 'Two-factor sign-in is on. Keep these codes somewhere safe, away from your phone: ',
			'each one signs you in once if the device is lost. They are not shown again.'),
		h('ol', { class: 'codes mono' }, codes.map(c => h('li', {}, c))),
		h('div', { class: 'actions' },
			h('button', { type: 'button', class: 'primary', onclick: () => copy(codes.join('\n'), 'Recovery codes copied') }, 'Copy'))),
	{ onClose: () => ctx.refresh() });
}

// Step two of the enrolment: the new secret, and its first code.
function enrolment(ctx, address, e) {
	const form = h('form', { class: 'inline', novalidate: true },
		field('Code from the app', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: 16 }),
		h('button', { type: 'submit', class: 'primary' }, 'Turn on'));
	onSubmit(form, async v => {
		const r = await api('POST', `/users/${enc(address)}/totp/confirm`, { code: v.code.trim() });
		recoveryCodes(ctx, r.recovery_codes);
	}, 'code');
	return h('div', { class: 'enrol' },
		h('p', {}, 'Add this account to an authenticator app (FreeOTP, Aegis, Google Authenticator…): ',
			'type in the secret, or open the link on the phone. Then enter the code the app shows.'),
		h('p', {}, 'Secret'),
		h('pre', { class: 'token secret', tabindex: '0' }, grouped(e.secret)),
		h('p', {}, 'Link'),
		h('pre', { class: 'token uri', tabindex: '0' }, e.uri),
		h('div', { class: 'actions' },
			h('button', { type: 'button', onclick: () => copy(e.secret, 'Secret copied') }, 'Copy secret'),
			h('button', { type: 'button', onclick: () => copy(e.uri, 'Link copied') }, 'Copy link')),
		form);
}

function twoFactor(ctx, address, t) {
	const box = h('section', { class: 'card narrow', 'aria-labelledby': 'tf-title' },
		h('h2', { id: 'tf-title' }, 'Two-factor sign-in'));
	if (!t.enabled) {
		const intro = h('div', {}, h('p', {}, t.pending
			? 'Setting up was started but not finished. Start again for a new secret.'
			: 'Off. With it on, signing in to this panel also asks for a code from an app on your phone.'),
		h('button', { type: 'button', class: 'primary', onclick: async ev => {
			ev.target.disabled = true;
			try {
				const e = await api('POST', `/users/${enc(address)}/totp`);
				intro.replaceWith(enrolment(ctx, address, e));
				box.querySelector('input').focus();
			} catch (err) { ev.target.disabled = false; toast(err.message, 'bad'); }
		} }, 'Set up two-factor sign-in'));
		box.append(intro);
		return box;
	}
	const form = h('form', { class: 'narrow', novalidate: true },
		h('p', {}, `On. ${t.recovery_codes_left} recovery code${t.recovery_codes_left === 1 ? '' : 's'} left.`),
		h('p', {}, 'To turn it off, give a current code (or a recovery code), or else your password.'),
		field('Code', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 64 }),
		field('Password', { name: 'password', type: 'password', autocomplete: 'current-password' }),
		h('p', { class: 'form-error', role: 'alert' }),
		h('button', { type: 'submit', class: 'danger' }, 'Turn off'));
	onSubmit(form, async v => {
		const body = v.code.trim() ? { code: v.code.trim() } : { password: v.password };
		await api('POST', `/users/${enc(address)}/totp/disable`, body);
		toast('Two-factor sign-in is off');
		ctx.refresh();
	}, 'code');
	box.append(form);
	return box;
}

export async function render(ctx) {
	const u = await api('GET', `/users/${enc(ctx.me.user)}`);
	const t = await api('GET', `/users/${enc(u.address)}/totp`);
	const form = h('form', { class: 'card narrow', novalidate: true },
		h('h2', {}, 'Change password'),
		field('Current password', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true }),
		field('New password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10 },
			'At least 10 characters; not a common password, nor your address.'),
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
		toast('Your password has been changed; other sessions and your API tokens have ended');
	}, 'password');
	return page('My account',
		h('section', { class: 'card narrow' },
			h('dl', {},
				h('dt', {}, 'Address'), h('dd', {}, u.address),
				h('dt', {}, 'Role'), h('dd', {}, u.admin ? 'administrator' : 'user'),
				h('dt', {}, 'Mail stored'), h('dd', {}, `${bytes(u.used)} of ${u.quota ? bytes(u.quota) : 'unlimited'}`))),
		h('section', { class: 'card narrow', id: 'download' },
			h('h2', {}, 'Your mail'),
			h('p', {}, 'Every folder as a Maildir (flags kept; Dovecot, mutt and most mail programs read it), in one .tar file made as it downloads.'),
			h('a', { href: `/api/v1/users/${enc(u.address)}/download`, download: `${u.address}.tar`, class: 'button' },
				'Download all my mail')),
		form,
		twoFactor(ctx, u.address, t));
}
