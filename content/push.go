package content

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Push notifications of new content: members register their devices' Web
// Push subscriptions (RFC 8030) once they granted the push consent
// purpose; when content is published the worker encrypts a short message
// for each device (RFC 8291) and signs the request with the deployment's
// VAPID key (RFC 8292).

// Errors of push notifications.
var (
	// ErrPushConsent: the member has not granted the push consent purpose.
	ErrPushConsent = errors.New("grant the push consent first: notifications are off until you do")
	// ErrPushOff: this server has no VAPID key, so it sends no push
	// notifications.
	ErrPushOff = errors.New("push notifications are not configured on this server")
)

// VAPIDKeys identify the deployment to push services (RFC 8292): an ECDSA
// P-256 key pair, base64url without padding (Public is the uncompressed
// point browsers take as applicationServerKey), and a contact, a mailto:
// or https: URI.
type VAPIDKeys struct {
	Public  string
	Private string
	Subject string
}

// GenerateVAPIDKeys returns a new key pair with subject as the contact.
func GenerateVAPIDKeys(subject string) (VAPIDKeys, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return VAPIDKeys{}, err
	}
	return VAPIDKeys{Public: base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		Private: base64.RawURLEncoding.EncodeToString(k.Bytes()), Subject: subject}, nil
}

// ParseVAPIDKeys reads a private key (32 bytes, base64url with or without
// padding) and derives its public key; subject must be a mailto: or
// https: URI.
func ParseVAPIDKeys(private, subject string) (VAPIDKeys, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(private), "="))
	if err != nil || len(b) != 32 {
		return VAPIDKeys{}, errors.New("the private key must be 32 bytes in base64url (npx web-push generate-vapid-keys prints one)")
	}
	k, err := ecdh.P256().NewPrivateKey(b)
	if err != nil {
		return VAPIDKeys{}, fmt.Errorf("the private key is not a P-256 key: %w", err)
	}
	if !strings.HasPrefix(subject, "mailto:") && !strings.HasPrefix(subject, "https://") {
		return VAPIDKeys{}, errors.New("the subject must be a mailto: or https: URI where push services can reach the operator")
	}
	return VAPIDKeys{Public: base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		Private: base64.RawURLEncoding.EncodeToString(b), Subject: subject}, nil
}

// PushConfig configures push notifications; zero Keys turn them off.
type PushConfig struct {
	Keys VAPIDKeys
	// Client posts to push services (nil: http.DefaultClient). Endpoints
	// are URLs that members' browsers chose: give it the outbound guard.
	Client *http.Client
	// AllowHTTPLoopback accepts http endpoints on loopback addresses
	// (tests and development, with a local push endpoint).
	AllowHTTPLoopback bool
	// Enqueue queues the notification of the post postID of sc at at (its
	// publish time); nil: nothing is notified.
	Enqueue func(ctx context.Context, sc tenant.Scope, postID string, at time.Time) error
}

// Limits of a subscription.
const (
	maxEndpointLen = 2048
	// MaxPushDevices is how many devices a member may register.
	MaxPushDevices = 10
	// pushTTL is how long a push service keeps a message for a device
	// that is offline: new content is news for a day.
	pushTTL = 24 * time.Hour
)

// PushSubscription is one device of a member: what the browser's
// PushSubscription.toJSON() gave.
type PushSubscription struct {
	ID        string    `bson:"_id" json:"id"`
	MemberID  string    `bson:"member_id" json:"-"`
	Endpoint  string    `bson:"endpoint" json:"endpoint"`
	P256DH    string    `bson:"p256dh" json:"p256dh"`
	Auth      string    `bson:"auth" json:"auth"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// pushSubscriptionKind holds the devices, one document per endpoint.
var pushSubscriptionKind = tenant.Kind{
	Name: "push_subscriptions",
	Indexes: []tenant.Index{
		{Keys: bson.D{{Key: "endpoint", Value: 1}}, Unique: true},
		{Keys: bson.D{{Key: "member_id", Value: 1}}},
	},
}

// QuietHours is a daily span, in the member's time zone, during which no
// push notification is sent: Start and End as "HH:MM"; a Start after End
// spans midnight (22:00–07:00).
type QuietHours struct {
	Start string `bson:"start" json:"start"`
	End   string `bson:"end" json:"end"`
}

// pushMember is one member's push settings and today's count, its ID the
// member's. The worker walks the enabled ones: members who registered a
// device and did not withdraw the consent since.
type pushMember struct {
	ID       string `bson:"_id"`
	MemberID string `bson:"member_id"`
	Enabled  bool   `bson:"enabled"`
	// TimeZone is an IANA zone ("": the instance's).
	TimeZone   string      `bson:"time_zone"`
	QuietHours *QuietHours `bson:"quiet_hours,omitempty"`
	// Day (in TimeZone) and Count: notifications sent that day.
	Day   string `bson:"day"`
	Count int    `bson:"count"`
}

var pushMemberKind = tenant.Kind{
	Name:    "push_members",
	Indexes: []tenant.Index{{Keys: bson.D{{Key: "enabled", Value: 1}, {Key: "_id", Value: 1}}}},
}

// pushSent marks one post notified to one member (ID post:member), written
// before anything is sent so that no member gets a post twice.
type pushSent struct {
	ID       string    `bson:"_id" json:"-"`
	PostID   string    `bson:"post_id" json:"post_id"`
	MemberID string    `bson:"member_id" json:"-"`
	State    string    `bson:"state" json:"state"`
	At       time.Time `bson:"at" json:"at"`
}

// States of a pushSent marker: claimed and sending, sent to at least one
// device, or not sent (and never to be) because of quiet hours or the cap.
const (
	pushSending     = "sending"
	pushDone        = "sent"
	pushQuiet       = "quiet_hours"
	pushCapped      = "daily_cap"
	pushUndelivered = "undelivered"
)

var pushSentKind = tenant.Kind{
	Name: "push_sent",
	Indexes: []tenant.Index{
		{Keys: bson.D{{Key: "member_id", Value: 1}}},
		// The sweep of old marks (SweepPushSent), oldest first.
		{Keys: bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}},
	},
}

// pushKinds are the tenant kinds of push notifications (part of Kinds).
func pushKinds() []tenant.Kind {
	return []tenant.Kind{pushSubscriptionKind, pushMemberKind, pushSentKind}
}

// SubscriptionIn is a device's subscription as PushSubscription.toJSON()
// gives it.
type SubscriptionIn struct {
	Endpoint       string   `json:"endpoint"`
	ExpirationTime *float64 `json:"expirationTime"`
	Keys           struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// pushOn reports whether the server sends push notifications.
func (s *Service) pushOn() bool { return s.push.Keys.Private != "" }

// PushPublicKey returns the VAPID public key browsers subscribe with, ""
// when push is off.
func (s *Service) PushPublicKey() string { return s.push.Keys.Public }

// checkSubscription validates a subscription: an https endpoint (http on
// loopback only where allowed), a P-256 public key and a 16-byte secret.
func (s *Service) checkSubscription(in SubscriptionIn) (PushSubscription, error) {
	var errs tenant.ValidationErrors
	add := func(field, reason string) { errs = append(errs, &tenant.ValidationError{Field: field, Reason: reason}) }
	ep := strings.TrimSpace(in.Endpoint)
	u, err := url.Parse(ep)
	switch {
	case ep == "":
		add("endpoint", "is required")
	case len(ep) > maxEndpointLen:
		add("endpoint", fmt.Sprintf("must be at most %d characters", maxEndpointLen))
	case err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "":
		add("endpoint", "must be an absolute https URL without user info or fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && s.push.AllowHTTPLoopback && tenant.IsLoopbackHost(u.Hostname()):
	default:
		add("endpoint", "must be an https URL")
	}
	p256, err := decodeKey(in.Keys.P256DH)
	if err == nil {
		_, err = ecdh.P256().NewPublicKey(p256)
	}
	if err != nil || len(p256) != 65 {
		add("keys.p256dh", "must be the subscription's P-256 public key (65 bytes, base64url)")
	}
	if auth, err := decodeKey(in.Keys.Auth); err != nil || len(auth) != 16 {
		add("keys.auth", "must be the subscription's authentication secret (16 bytes, base64url)")
	}
	if len(errs) > 0 {
		return PushSubscription{}, errs
	}
	return PushSubscription{Endpoint: ep, P256DH: in.Keys.P256DH, Auth: in.Keys.Auth}, nil
}

// decodeKey reads base64url, padded or not (browsers give it unpadded).
func decodeKey(s string) ([]byte, error) {
	if len(s) > 200 {
		return nil, errors.New("too long")
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// Subscribe registers a device of the member for push notifications. It
// needs the push consent (ErrPushConsent) and a server with a VAPID key
// (ErrPushOff); the same endpoint registered again (by this member or
// another one signed in on the same browser) is replaced. A member has at
// most MaxPushDevices devices: the oldest goes.
func (s *Service) Subscribe(ctx context.Context, sc tenant.Scope, me tenant.Member, in SubscriptionIn) (PushSubscription, error) {
	if !s.pushOn() {
		return PushSubscription{}, ErrPushOff
	}
	sub, err := s.checkSubscription(in)
	if err != nil {
		return PushSubscription{}, err
	}
	ok, err := sc.Consented(ctx, me.ID, tenant.PurposePush)
	if err != nil {
		return PushSubscription{}, err
	}
	if !ok {
		return PushSubscription{}, ErrPushConsent
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	sub.ID, sub.MemberID, sub.CreatedAt = httpapi.NewID(), me.ID, now
	subs := sc.Collection(pushSubscriptionKind)
	if err := subs.Upsert(ctx, bson.D{{Key: "endpoint", Value: sub.Endpoint}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "member_id", Value: me.ID}, {Key: "p256dh", Value: sub.P256DH}, {Key: "auth", Value: sub.Auth}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "_id", Value: sub.ID}, {Key: "created_at", Value: now}}},
	}); err != nil {
		return PushSubscription{}, fmt.Errorf("store push subscription: %w", err)
	}
	if err := subs.FindOne(ctx, bson.D{{Key: "endpoint", Value: sub.Endpoint}}, &sub); err != nil {
		return PushSubscription{}, err
	}
	var mine []PushSubscription
	if err := subs.Find(ctx, bson.D{{Key: "member_id", Value: me.ID}}, &mine,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}})); err != nil {
		return PushSubscription{}, err
	}
	for _, old := range mine[min(len(mine), MaxPushDevices):] {
		if _, err := subs.Delete(ctx, bson.D{{Key: "_id", Value: old.ID}}); err != nil {
			return PushSubscription{}, err
		}
	}
	if err := sc.Collection(pushMemberKind).Upsert(ctx, bson.D{{Key: "_id", Value: me.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "enabled", Value: true}, {Key: "member_id", Value: me.ID}}}}); err != nil {
		return PushSubscription{}, err
	}
	return sub, nil
}

// Unsubscribe removes one of the member's devices; another member's (or
// instance's) is ErrNotFound.
func (s *Service) Unsubscribe(ctx context.Context, sc tenant.Scope, me tenant.Member, id string) error {
	if !httpapi.ValidID(id) {
		return ErrNotFound
	}
	ok, err := sc.Collection(pushSubscriptionKind).Delete(ctx, bson.D{{Key: "_id", Value: id}, {Key: "member_id", Value: me.ID}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// PushSettings is a member's push notification settings as the API shows
// them.
type PushSettings struct {
	// PublicKey is the VAPID key to subscribe with ("" : push is off).
	PublicKey  string      `json:"public_key"`
	Consented  bool        `json:"consented"`
	TimeZone   string      `json:"time_zone"`
	QuietHours *QuietHours `json:"quiet_hours"`
	DailyCap   int         `json:"daily_cap"`
	Devices    []Device    `json:"devices"`
}

// Device is a registered subscription as its member sees it: the push
// service's host, not the endpoint's capability URL.
type Device struct {
	ID        string    `json:"id"`
	Service   string    `json:"service"`
	CreatedAt time.Time `json:"created_at"`
}

// PushSettingsOf returns the member's push settings and devices.
func (s *Service) PushSettingsOf(ctx context.Context, sc tenant.Scope, me tenant.Member) (PushSettings, error) {
	out := PushSettings{PublicKey: s.push.Keys.Public, DailyCap: sc.Instance().Settings.PushCap(), Devices: []Device{}}
	var err error
	if out.Consented, err = sc.Consented(ctx, me.ID, tenant.PurposePush); err != nil {
		return PushSettings{}, err
	}
	var pm pushMember
	switch err := sc.Collection(pushMemberKind).FindOne(ctx, bson.D{{Key: "_id", Value: me.ID}}, &pm); {
	case errors.Is(err, tenant.ErrNotFound):
	case err != nil:
		return PushSettings{}, err
	}
	out.TimeZone, out.QuietHours = pm.TimeZone, pm.QuietHours
	var subs []PushSubscription
	if err := sc.Collection(pushSubscriptionKind).Find(ctx, bson.D{{Key: "member_id", Value: me.ID}}, &subs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}})); err != nil {
		return PushSettings{}, err
	}
	for _, sub := range subs {
		host := ""
		if u, err := url.Parse(sub.Endpoint); err == nil {
			host = u.Hostname()
		}
		out.Devices = append(out.Devices, Device{ID: sub.ID, Service: host, CreatedAt: sub.CreatedAt})
	}
	return out, nil
}

// PushPrefs changes a member's time zone and quiet hours; nil fields stay,
// NoQuietHours turns quiet hours off.
type PushPrefs struct {
	TimeZone     *string
	QuietHours   *QuietHours
	NoQuietHours bool
}

// SetPushPrefs validates and stores the member's push preferences.
func (s *Service) SetPushPrefs(ctx context.Context, sc tenant.Scope, me tenant.Member, p PushPrefs) (PushSettings, error) {
	var errs tenant.ValidationErrors
	set := bson.D{{Key: "member_id", Value: me.ID}}
	if p.TimeZone != nil {
		tz := strings.TrimSpace(*p.TimeZone)
		if tz != "" {
			if _, err := time.LoadLocation(tz); err != nil || len(tz) > 64 || strings.EqualFold(tz, "local") {
				errs = append(errs, &tenant.ValidationError{Field: "time_zone", Reason: "must be an IANA time zone such as Europe/Paris"})
			}
		}
		set = append(set, bson.E{Key: "time_zone", Value: tz})
	}
	var unset bson.D
	switch {
	case p.NoQuietHours:
		unset = bson.D{{Key: "quiet_hours", Value: ""}}
	case p.QuietHours != nil:
		q := *p.QuietHours
		start, okS := clockMinutes(q.Start)
		end, okE := clockMinutes(q.End)
		if !okS {
			errs = append(errs, &tenant.ValidationError{Field: "quiet_hours.start", Reason: "must be a time of day HH:MM"})
		}
		if !okE {
			errs = append(errs, &tenant.ValidationError{Field: "quiet_hours.end", Reason: "must be a time of day HH:MM"})
		}
		if okS && okE && start == end {
			errs = append(errs, &tenant.ValidationError{Field: "quiet_hours.end", Reason: "must differ from the start"})
		}
		set = append(set, bson.E{Key: "quiet_hours", Value: q})
	}
	if len(errs) > 0 {
		return PushSettings{}, errs
	}
	update := bson.D{{Key: "$set", Value: set}, {Key: "$setOnInsert", Value: bson.D{{Key: "enabled", Value: false}}}}
	if unset != nil {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if err := sc.Collection(pushMemberKind).Upsert(ctx, bson.D{{Key: "_id", Value: me.ID}}, update); err != nil {
		return PushSettings{}, err
	}
	return s.PushSettingsOf(ctx, sc, me)
}

// clockMinutes reads "HH:MM" as minutes after midnight.
func clockMinutes(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, false
	}
	return hh*60 + mm, true
}

// Quiet reports whether t falls in the quiet hours q in loc.
func (q QuietHours) Quiet(t time.Time, loc *time.Location) bool {
	start, ok1 := clockMinutes(q.Start)
	end, ok2 := clockMinutes(q.End)
	if !ok1 || !ok2 || start == end {
		return false
	}
	lt := t.In(loc)
	now := lt.Hour()*60 + lt.Minute()
	if start < end {
		return now >= start && now < end
	}
	return now >= start || now < end
}

// dropPushSubscriptions deletes the member's devices and stops walking
// them: the push consent was withdrawn.
func dropPushSubscriptions(ctx context.Context, sc tenant.Scope, memberID string) error {
	if _, err := sc.Collection(pushSubscriptionKind).DeleteMany(ctx, bson.D{{Key: "member_id", Value: memberID}}); err != nil {
		return err
	}
	_, err := sc.Collection(pushMemberKind).Update(ctx, bson.D{{Key: "_id", Value: memberID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "enabled", Value: false}}}})
	return err
}
