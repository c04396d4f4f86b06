package preview

import "errors"

// ErrBlocked is returned, wrapped with the reason, when a fetch or one of its
// redirects would go somewhere the SSRF policy does not allow: another
// scheme than http or https, a port not in Config.Ports, userinfo in the URL,
// a non-canonical numeric host, or an address outside the public internet.
// It is permanent: retrying the same URL cannot succeed.
var ErrBlocked = errors.New("destination not allowed")

// ErrNotHTML is returned, wrapped with the content type, when the page is not
// text/html or application/xhtml+xml. It is permanent.
var ErrNotHTML = errors.New("not an HTML page")
