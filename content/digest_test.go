package content

import (
	"testing"
	"time"
)

func TestDigestWeek(t *testing.T) {
	helsinki, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	tests := []struct {
		name string
		at   time.Time
		loc  *time.Location
		want string
	}{
		{"Monday before the hour is last week", time.Date(2026, 11, 23, 7, 59, 0, 0, time.UTC), time.UTC, "2026-W47"},
		{"Monday at the hour starts the week", time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), time.UTC, "2026-W48"},
		{"Sunday night is still the week", time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC), time.UTC, "2026-W48"},
		{"the instance's zone decides", time.Date(2026, 11, 23, 6, 30, 0, 0, time.UTC), helsinki, "2026-W48"},
		{"ISO year at new year", time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC), time.UTC, "2026-W53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DigestWeek(tt.at, tt.loc); got != tt.want {
				t.Errorf("DigestWeek(%v, %v) = %q, want %q", tt.at, tt.loc, got, tt.want)
			}
		})
	}
}
