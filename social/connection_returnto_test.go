package social

import (
	"net/url"
	"strings"
	"testing"
)

func TestCheckReturnTo(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/share/abc", "/share/abc"},
		{"/share/abc?x=1", "/share/abc?x=1"},
		{"/profile#accounts", "/profile"},
	} {
		got, err := CheckReturnTo(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CheckReturnTo(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "//evil.example", "//evil.example/share/x", "https://evil.example/", "http:/evil.example",
		"/\\evil.example", "/x\\y", "share/x", "javascript:alert(1)", "/share/x\r\nLocation: //evil.example", "/" + strings.Repeat("a", 600)} {
		if _, err := CheckReturnTo(bad); err == nil {
			t.Errorf("CheckReturnTo(%q) passed", bad)
		}
	}
}

// Whatever CheckReturnTo passes stays on the app: resolved against the
// app's address, it names the app's host, and ReturnURL keeps it there.
func FuzzCheckReturnTo(f *testing.F) {
	for _, s := range []string{"/share/abc", "//evil.example", "/\\evil", "/a?b=c#d", "/%2F%2Fevil.example", "/..//evil.example", "/\t/evil.example"} {
		f.Add(s)
	}
	app, _ := url.Parse("https://chorus.example")
	svc := &Service{baseURL: app}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := CheckReturnTo(raw)
		if err != nil {
			return
		}
		if u, err := app.Parse(got); err != nil || u.Host != app.Host || u.Scheme != app.Scheme {
			t.Fatalf("CheckReturnTo(%q) = %q, which leaves the app (%v)", raw, got, u)
		}
		back, err := url.Parse(svc.ReturnURL(got, url.Values{"connected": {"mastodon"}}))
		if err != nil || back.Host != app.Host || back.Scheme != app.Scheme {
			t.Fatalf("ReturnURL(%q) = %v, which leaves the app", got, back)
		}
	})
}
