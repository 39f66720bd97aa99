// The panel's shell: sign-in, navigation and the hash router.  Each screen
// is a module under views/ exporting render(ctx) -> element.
import { api, setCsrf, setOnExpired } from './api.js';
import { h, field, onSubmit, toast } from './ui.js';

const screens = {
	dashboard: { title: 'Dashboard', admin: true },
	domains: { title: 'Domains', admin: true },
	users: { title: 'Users', admin: true },
	aliases: { title: 'Aliases' },
	upstreams: { title: 'Upstream accounts' },
	import: { title: 'Import mail' },
	filters: { title: 'Filters' },
	queue: { title: 'Queue', admin: true },
	relay: { title: 'Outgoing mail', admin: true },
	log: { title: 'Log', admin: true },
	app_passwords: { title: 'App passwords' },
	tokens: { title: 'API tokens' },
	account: { title: 'My account', first: true },
};

const app = document.getElementById('app');
let me = null;

function login(message) {
	me = null;
	setCsrf('');
	const form = h('form', { class: 'card login', novalidate: true },
		h('h1', {}, h('img', { src: 'icon.svg', alt: '', width: 32, height: 32 }), 'mailhub'),
		message ? h('p', { class: 'notice' }, message) : null,
		field('Address', { name: 'username', type: 'email', autocomplete: 'username', required: true }),
		field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
		h('p', { class: 'form-error', role: 'alert' }),
		h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
	onSubmit(form, async v => {
		let s;
		try {
			s = await api('POST', '/session', { username: v.username, password: v.password });
		} catch (err) {
			// The right password of an account with two-factor sign-in:
			// no session yet, a challenge for the code step.
			if (err.status === 401 && err.data.totp_required) return codeStep(v.username, err.data.challenge);
			throw err;
		}
		signedIn(s);
	}, 'password');
	app.replaceChildren(h('main', { id: 'main', class: 'center', tabindex: '-1' }, form));
	document.title = 'Sign in · mailhub';
	form.querySelector('input').focus();
}

function signedIn(s) {
	setCsrf(s.csrf);
	me = s;
	if (!location.hash || location.hash === '#/') location.hash = me.admin ? '#/dashboard' : '#/account';
	route();
}

// The second step: the code of the authenticator app, or a recovery code.
function codeStep(username, challenge) {
	const form = h('form', { class: 'card login', novalidate: true },
		h('h1', {}, h('img', { src: 'icon.svg', alt: '', width: 32, height: 32 }), 'mailhub'),
		h('p', {}, 'Enter the 6-digit code your authenticator app shows for ', h('strong', {}, username), '.'),
		field('Code', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: 64 },
			'Lost the device? A recovery code works once instead.'),
		h('p', { class: 'form-error', role: 'alert' }),
		h('div', { class: 'actions' },
			h('button', { type: 'button', onclick: () => login() }, 'Back'),
			h('button', { type: 'submit', class: 'primary' }, 'Verify')));
	onSubmit(form, async v => {
		try {
			signedIn(await api('POST', '/session/totp', { challenge, code: v.code.trim() }));
		} catch (err) {
			// Too many tries or too late: the password is asked again.
			if (err.status === 401 && /sign in again/.test(err.message)) return login(err.message);
			err.field = 'code';
			throw err;
		}
	}, 'code');
	app.replaceChildren(h('main', { id: 'main', class: 'center', tabindex: '-1' }, form));
	document.title = 'Two-factor sign-in · mailhub';
	form.querySelector('input').focus();
}

async function logout() {
	try { await api('DELETE', '/session'); } catch { /* gone already */ }
	location.hash = '';
	login('You are signed out.');
}

function shell(name, content) {
	const nav = h('nav', { 'aria-label': 'Main' }, h('ul', {},
		Object.entries(screens)
			.filter(([, s]) => me.admin || !s.admin)
			// A user's own account comes first: it is their home.
			.sort(([, a], [, b]) => me.admin ? 0 : (b.first === true) - (a.first === true))
			.map(([id, s]) => h('li', {}, h('a', {
				href: '#/' + id,
				'aria-current': id === name ? 'page' : false,
			}, s.title)))));
	const menu = h('button', {
		type: 'button', class: 'menu', 'aria-expanded': 'false', 'aria-label': 'Menu',
		onclick: () => {
			const open = menu.getAttribute('aria-expanded') !== 'true';
			menu.setAttribute('aria-expanded', String(open));
			nav.classList.toggle('open', open);
		},
	}, '☰');
	return [
		h('header', { class: 'top' },
			menu,
			h('a', { href: me.admin ? '#/dashboard' : '#/account', class: 'brand' },
				h('img', { src: 'icon.svg', alt: '', width: 24, height: 24 }), 'mailhub'),
			h('span', { class: 'who' }, me.user, me.admin ? h('span', { class: 'badge' }, 'admin') : null),
			h('button', { type: 'button', onclick: logout }, 'Sign out')),
		h('div', { class: 'layout' }, nav, h('main', { id: 'main', tabindex: '-1' }, content)),
	];
}

async function route() {
	if (!me) return login();
	const [, name = '', ...rest] = location.hash.slice(1).split('/');
	const s = screens[name];
	if (!s || (s.admin && !me.admin)) {
		location.replace(me.admin ? '#/dashboard' : '#/account');
		return;
	}
	document.title = s.title + ' · mailhub';
	// A late refresh (after a fetch, a dialog) only redraws the screen it
	// came from, never the one the user has moved on to.
	const here = location.hash;
	const ctx = { me, args: rest.map(decodeURIComponent), refresh: () => { if (me && location.hash === here) route(); } };
	let content;
	try {
		const mod = await import(`./views/${name}.js`);
		content = await mod.render(ctx);
	} catch (err) {
		if (!me) return;	// the session ran out: the login is showing
		content = h('p', { class: 'notice bad' }, 'Could not load this page: ' + err.message);
	}
	app.replaceChildren(...shell(name, content));
	const title = app.querySelector('#page-title');
	if (title && route.focus) title.focus();
	route.focus = true;
}

setOnExpired(() => login('Your session has ended; please sign in again.'));
// The skip link moves focus without touching the hash (the router's).
document.querySelector('.skip').addEventListener('click', ev => {
	ev.preventDefault();
	const main = document.getElementById('main');
	if (main) main.focus();
});
window.addEventListener('hashchange', route);

(async () => {
	try {
		me = await api('GET', '/session');
		setCsrf(me.csrf);
		// back from an OAuth2 provider with ?code=&state= (views/upstreams.js)
		if (location.search) await (await import('./views/upstreams.js')).finishConnect();
		route();
	} catch (err) {
		if (err.status !== 401) toast(err.message, 'bad');
		login();
	}
})();
