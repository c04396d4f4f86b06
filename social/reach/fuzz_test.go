package reach_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/chorushq/chorus/social/reach"
)

// No cell SafeCell returns can start a formula, except a plain negative
// integer; and it changes nothing else.
func FuzzSafeCell(f *testing.F) {
	for _, s := range []string{"=1+1", "-5", "-5+1", "@x", "+", "\t", "\r", "plain", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := reach.SafeCell(s)
		if out != s && out != "'"+s {
			t.Fatalf("SafeCell(%q) = %q", s, out)
		}
		if out == "" {
			return
		}
		switch out[0] {
		case '=', '+', '@', '\t', '\r':
			t.Fatalf("SafeCell(%q) = %q starts a formula", s, out)
		case '-':
			if _, err := strconv.ParseInt(out, 10, 64); err != nil {
				t.Fatalf("SafeCell(%q) = %q starts a formula", s, out)
			}
		}
	})
}

// An accepted period is two real days in order, less than two years apart.
func FuzzParsePeriod(f *testing.F) {
	f.Add("2026-01-01", "2026-03-31")
	f.Add("2024-02-29", "2026-02-28")
	f.Add("2026-13-01", "x")
	f.Fuzz(func(t *testing.T, from, to string) {
		p, err := reach.ParsePeriod(from, to)
		if err != nil {
			return
		}
		a, errA := time.Parse(time.DateOnly, p.From)
		b, errB := time.Parse(time.DateOnly, p.To)
		if errA != nil || errB != nil || b.Before(a) || !b.Before(a.AddDate(2, 0, 0)) || p.From != from || p.To != to {
			t.Fatalf("ParsePeriod(%q, %q) accepted %+v", from, to, p)
		}
		if days := p.Days(); len(days) == 0 || days[0] != p.From || days[len(days)-1] != p.To || len(days) > 731 {
			t.Fatalf("%+v has %d days", p, len(days))
		}
	})
}
