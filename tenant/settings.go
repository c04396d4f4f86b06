package tenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/currency"
)

// SettingsUpdate changes an instance's name and settings; nil fields stay.
type SettingsUpdate struct {
	Name              *string
	InvitationMessage *string
	RetentionDays     *int
	JoinPolicy        *JoinPolicy
	// SuggestionsNeedApproval: false publishes suggestions without review.
	SuggestionsNeedApproval *bool
	// Subdomain selects the instance's login page; "" clears it.
	Subdomain *string
	// Reach measurement settings (see Settings).
	TimeZone           *string
	CPC                *Money
	MinGroupSize       *int
	LeaderboardVisible *bool
	Points             *Points
	// Digest is DigestOff or DigestWeekly.
	Digest *string
	// Region moves a pending instance's data to another region.
	Region *string
	// PushDailyCap caps push notifications per member and day.
	PushDailyCap *int
}

// Digest schedules.
const (
	DigestOff    = "off"
	DigestWeekly = "weekly"
)

// DigestSchedule returns how often the instance's members get the digest
// mail: DigestWeekly unless the admins turned it off.
func (s Settings) DigestSchedule() string {
	if s.Digest == "" {
		return DigestWeekly
	}
	return s.Digest
}

// Settings limits.
const (
	maxInstanceName      = 100
	maxInvitationMessage = 2000
	maxRetentionDays     = 3650
)

// MinRetentionDays is the shortest retention period admins may set: the
// daily sweeps would otherwise purge clicks (and, before the audit log had
// its own minimum, the audit trail) after a day.
const MinRetentionDays = 30

// MinAuditRetentionDays is how long the audit log keeps its entries at
// least, whatever the instance's retention period: admins cannot shorten
// the trail of their own actions.
const MinAuditRetentionDays = 365

// RetentionPeriod returns how many days raw data is kept: the setting,
// DefaultRetentionDays when unset, never less than MinRetentionDays (a
// shorter value stored before the minimum existed).
func (s Settings) RetentionPeriod() int {
	if s.RetentionDays <= 0 {
		return DefaultRetentionDays
	}
	return max(s.RetentionDays, MinRetentionDays)
}

// UpdateSettings validates and stores u for the scope's instance; only
// admins (by) may call it. Each change is audited with its old and new
// values (instance.settings_changed). It returns the instance as stored, or
// ValidationErrors naming every bad field, ErrDomainUnverified for a join
// policy other than open or a new subdomain on a pending instance, or ErrSSONotConfigured for
// the join policy sso without the instance's own identity provider.
func (s *Service) UpdateSettings(ctx context.Context, sc Scope, by Member, u SettingsUpdate) (Instance, error) {
	inst := sc.Instance()
	name, st := inst.Name, inst.Settings
	var verr ValidationErrors
	noIdP := false
	if u.Name != nil {
		name = strings.TrimSpace(*u.Name)
		if e := controlCharError("name", name, false); e != nil {
			verr = append(verr, e)
		} else if n := len([]rune(name)); n == 0 || n > maxInstanceName {
			verr = append(verr, &ValidationError{Field: "name", Reason: fmt.Sprintf("must be 1 to %d characters", maxInstanceName)})
		}
	}
	if u.InvitationMessage != nil {
		st.InvitationMessage = strings.TrimSpace(*u.InvitationMessage)
		if e := controlCharError("invitation_message", st.InvitationMessage, true); e != nil {
			verr = append(verr, e)
		} else if len([]rune(st.InvitationMessage)) > maxInvitationMessage {
			verr = append(verr, &ValidationError{Field: "invitation_message", Reason: fmt.Sprintf("must be at most %d characters", maxInvitationMessage)})
		}
	}
	if u.RetentionDays != nil {
		st.RetentionDays = *u.RetentionDays
		if st.RetentionDays < MinRetentionDays || st.RetentionDays > maxRetentionDays {
			verr = append(verr, &ValidationError{Field: "retention_days", Reason: fmt.Sprintf("must be from %d to %d", MinRetentionDays, maxRetentionDays)})
		}
	}
	if u.JoinPolicy != nil {
		st.JoinPolicy = *u.JoinPolicy
		switch st.JoinPolicy {
		case JoinOpen, JoinInvite:
		case JoinSSO:
			// Only with the instance's own provider: the policy would
			// otherwise lock everyone out.
			if _, err := s.Store.ssoRecord(ctx, inst.ID); errors.Is(err, ErrNotFound) || s.Keys == nil {
				noIdP = true
			} else if err != nil {
				return Instance{}, err
			}
		default:
			verr = append(verr, &ValidationError{Field: "join_policy", Reason: "must be open, invite or sso"})
		}
	}
	newSubdomain := false
	if u.Subdomain != nil {
		sub, ve := checkSubdomain(*u.Subdomain)
		if ve != nil {
			verr = append(verr, ve)
		}
		st.Subdomain = sub
		if newSubdomain = ve == nil && sub != "" && sub != inst.Settings.Subdomain; newSubdomain && inst.Verified {
			ve, err := s.checkSubdomainOwned(ctx, sc, sub)
			if err != nil {
				return Instance{}, err
			}
			if ve != nil {
				verr = append(verr, ve)
			}
		}
	}
	if u.SuggestionsNeedApproval != nil {
		st.SuggestionsNeedApproval = new(*u.SuggestionsNeedApproval)
	}
	if u.Digest != nil {
		st.Digest = *u.Digest
		if st.Digest != DigestOff && st.Digest != DigestWeekly {
			verr = append(verr, &ValidationError{Field: "digest", Reason: "must be off or weekly"})
		}
	}
	if u.PushDailyCap != nil {
		st.PushDailyCap = *u.PushDailyCap
		if st.PushDailyCap < 1 || st.PushDailyCap > MaxPushDailyCap {
			verr = append(verr, &ValidationError{Field: "push_daily_cap", Reason: fmt.Sprintf("must be from 1 to %d", MaxPushDailyCap)})
		}
	}
	verr = append(verr, checkReachSettings(u, &st)...)
	moveTo := ""
	if u.Region != nil {
		r := strings.TrimSpace(*u.Region)
		if !slices.Contains(s.Store.Regions(), r) {
			verr = append(verr, &ValidationError{Field: "region", Reason: "must be one of " + strings.Join(s.Store.Regions(), ", ")})
		} else if r != s.Store.RegionOf(inst) {
			moveTo = r
		}
	}
	if len(verr) > 0 {
		return Instance{}, verr
	}
	// Once a domain is verified, the company is settled in its region:
	// moving it is the operator's (chorus instance move).
	if moveTo != "" && inst.Verified {
		return Instance{}, ErrRegionFixed
	}
	// A pending instance's first member could otherwise lock every
	// colleague out before anyone proved the domain is the company's.
	// Nor can it claim a login page that would show its name to another
	// company's people.
	if u.JoinPolicy != nil && st.JoinPolicy != JoinOpen && st.JoinPolicy != inst.Settings.JoinPolicy || newSubdomain {
		if err := RequireVerified(sc); err != nil {
			return Instance{}, err
		}
	}
	if noIdP {
		return Instance{}, ErrSSONotConfigured
	}
	if err := s.Store.claimSubdomain(ctx, inst.ID, inst.Settings.Subdomain, st.Subdomain); err != nil {
		return Instance{}, err
	}
	stored, err := s.Store.updateInstance(ctx, sc, name, st)
	if err != nil {
		return Instance{}, err
	}
	if changes := settingsChanges(inst, stored); len(changes) > 0 {
		if err := sc.Audit(ctx, MemberActor(by), "instance.settings_changed", inst.ID, changes); err != nil {
			return Instance{}, err
		}
	}
	if moveTo != "" {
		return s.pickRegion(ctx, inst, by, moveTo)
	}
	return stored, nil
}

// pickRegion moves a pending instance's data to the region its admin
// picked (a few documents: the request waits for it) and audits it in the
// new region.
func (s *Service) pickRegion(ctx context.Context, inst Instance, by Member, to string) (Instance, error) {
	from := s.Store.RegionOf(inst)
	if _, err := s.Store.MoveInstance(ctx, inst.ID, to, MoveOptions{}); err != nil {
		return Instance{}, err
	}
	moved, err := s.Store.Open(ctx, inst.ID)
	if err != nil {
		return Instance{}, err
	}
	if err := moved.Audit(ctx, MemberActor(by), "instance.region_changed", inst.ID, map[string]string{"region_old": from, "region_new": to}); err != nil {
		return Instance{}, err
	}
	return moved.Instance(), nil
}

// settingsChanges returns the audit details of what changed between two
// versions of an instance: "<field>_old" and "<field>_new" of each changed
// field (points_per_share for points.per_share: keys hold no dots),
// settings as they apply (defaults filled in).
func settingsChanges(before, after Instance) map[string]string {
	fields := func(inst Instance) [][2]string {
		st := inst.Settings.WithDefaults()
		cpc := ""
		if st.CPC != nil {
			cpc = fmt.Sprintf("%d %s", st.CPC.Amount, st.CPC.Currency)
		}
		return [][2]string{
			{"name", inst.Name},
			{"invitation_message", st.InvitationMessage},
			{"retention_days", fmt.Sprint(st.RetentionDays)},
			{"join_policy", string(st.JoinPolicy)},
			{"suggestions_need_approval", fmt.Sprint(st.NeedsApproval())},
			{"subdomain", st.Subdomain},
			{"time_zone", st.TimeZone},
			{"cpc", cpc},
			{"min_group_size", fmt.Sprint(st.MinGroupSize)},
			{"leaderboard_visible", fmt.Sprint(st.LeaderboardVisible)},
			{"points_per_share", fmt.Sprint(st.Points.PerShare)},
			{"points_per_unique_click", fmt.Sprint(st.Points.PerUniqueClick)},
			{"digest", st.Digest},
			{"push_daily_cap", fmt.Sprint(st.PushDailyCap)},
		}
	}
	old, changed := fields(before), map[string]string{}
	for i, f := range fields(after) {
		if f[1] != old[i][1] {
			changed[f[0]+"_old"], changed[f[0]+"_new"] = old[i][1], f[1]
		}
	}
	return changed
}

// Reach settings limits.
const (
	maxCPCAmount    = 1_000_000_00 // a million in major units
	maxMinGroupSize = 1000
	maxPointWeight  = 1000
)

// checkReachSettings applies u's reach settings to st and names every bad
// field.
func checkReachSettings(u SettingsUpdate, st *Settings) ValidationErrors {
	var verr ValidationErrors
	if u.TimeZone != nil {
		tz := strings.TrimSpace(*u.TimeZone)
		if tz == "" {
			tz = DefaultTimeZone
		}
		// "Local" names the server's zone, not a place: refused.
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			verr = append(verr, &ValidationError{Field: "time_zone", Reason: "must be an IANA time zone such as Europe/Helsinki or UTC"})
		}
		st.TimeZone = tz
	}
	if u.CPC != nil {
		c := *u.CPC
		c.Currency = strings.ToUpper(strings.TrimSpace(c.Currency))
		if c.Amount < 0 || c.Amount > maxCPCAmount {
			verr = append(verr, &ValidationError{Field: "cpc.amount", Reason: fmt.Sprintf("must be from 0 to %d minor units (cents)", maxCPCAmount)})
		}
		if _, err := currency.ParseISO(c.Currency); err != nil || len(c.Currency) != 3 {
			verr = append(verr, &ValidationError{Field: "cpc.currency", Reason: "must be an ISO 4217 currency code such as EUR or USD"})
		}
		st.CPC = &c
	}
	if u.MinGroupSize != nil {
		st.MinGroupSize = *u.MinGroupSize
		if st.MinGroupSize < 1 || st.MinGroupSize > maxMinGroupSize {
			verr = append(verr, &ValidationError{Field: "min_group_size", Reason: fmt.Sprintf("must be from 1 (off) to %d", maxMinGroupSize)})
		}
	}
	if u.LeaderboardVisible != nil {
		st.LeaderboardVisible = *u.LeaderboardVisible
	}
	if u.Points != nil {
		st.Points = *u.Points
		if p := u.Points.PerShare; p < 1 || p > maxPointWeight {
			verr = append(verr, &ValidationError{Field: "points.per_share", Reason: fmt.Sprintf("must be from 1 to %d", maxPointWeight)})
		}
		if p := u.Points.PerUniqueClick; p < 1 || p > maxPointWeight {
			verr = append(verr, &ValidationError{Field: "points.per_unique_click", Reason: fmt.Sprintf("must be from 1 to %d", maxPointWeight)})
		}
	}
	return verr
}
