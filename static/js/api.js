// The REST API client: JSON in and out, the CSRF header on every change,
// RFC 9457 problems turned into ApiError with the field they name.

let csrf = '';

export function setCsrf(token) { csrf = token || ''; }

export class ApiError extends Error {
	constructor(status, detail, data) {
		super(detail || `HTTP ${status}`);
		this.status = status;
		// The whole problem, with its extension members (totp_required...).
		this.data = data || {};
		// The server names the bad field as: field 'name' ...
		const m = /field '([a-z_]+)'/.exec(this.message);
		this.field = m ? m[1] : null;
	}
}

// Called when a request finds the session gone (401), to show the login.
let onExpired = () => {};
export function setOnExpired(fn) { onExpired = fn; }

export async function api(method, path, body) {
	const headers = { Accept: 'application/json' };
	if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
	const init = { method, headers, credentials: 'same-origin' };
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch('/api/v1' + path, init);
	} catch {
		throw new ApiError(0, 'the server cannot be reached');
	}
	if (res.status === 204) return null;
	let data = null;
	try { data = await res.json(); } catch { /* not JSON */ }
	if (!res.ok) {
		// A failed sign-in (either step) is not a session running out.
		if (res.status === 401 && !path.startsWith('/session')) onExpired();
		throw new ApiError(res.status, data && data.detail, data);
	}
	return data;
}

export const enc = encodeURIComponent;
