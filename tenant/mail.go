package tenant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Mail is one plain-text message to one person.
type Mail struct {
	To      string
	Subject string
	Text    string
	// Link is the action URL the mail contains (sign-in, invitation).
	Link string
}

// Mailer sends mail. Send returns only after the message was handed over.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// SMTPMailer sends through an SMTP server.
type SMTPMailer struct {
	from   string
	client *gomail.Client
}

// NewSMTPMailer parses an SMTP URL: smtp://user:pass@host:port uses
// STARTTLS (required; add ?tls=none for a local catcher, ?tls=opportunistic
// to allow plain text), smtps:// uses implicit TLS. from is the sender.
func NewSMTPMailer(rawURL, from string) (*SMTPMailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP URL: %w", err)
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("sender address %q: %w", from, err)
	}
	opts := []gomail.Option{gomail.WithTimeout(15 * time.Second)}
	port := 587
	switch u.Scheme {
	case "smtp":
		switch u.Query().Get("tls") {
		case "", "required":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		case "opportunistic":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		case "none":
			opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		default:
			return nil, fmt.Errorf("SMTP URL: tls must be required, opportunistic or none")
		}
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("SMTP URL: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("SMTP URL: port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	if u.Hostname() == "" {
		return nil, errors.New("SMTP URL: no host")
	}
	c, err := gomail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP client: %w", err)
	}
	return &SMTPMailer{from: from, client: c}, nil
}

// Send delivers m.
func (s *SMTPMailer) Send(ctx context.Context, m Mail) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	return nil
}

// DevMail is a message kept by the development mailbox.
type DevMail struct {
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	Link    string    `json:"link"`
	SentAt  time.Time `json:"sent_at"`
}

// DevMailbox keeps the last mails in memory for development and tests and
// logs each one, link included: it is never on in production.
type DevMailbox struct {
	mu   sync.Mutex
	mail []DevMail
	max  int
	log  *slog.Logger
	now  func() time.Time
}

// NewDevMailbox returns a mailbox keeping the newest max mails.
func NewDevMailbox(max int, log *slog.Logger, now func() time.Time) *DevMailbox {
	return &DevMailbox{max: max, log: log, now: now}
}

// Send keeps m.
func (b *DevMailbox) Send(ctx context.Context, m Mail) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mail = append(b.mail, DevMail{To: m.To, Subject: m.Subject, Text: m.Text, Link: m.Link, SentAt: b.now().UTC()})
	if len(b.mail) > b.max {
		b.mail = slices.Delete(b.mail, 0, len(b.mail)-b.max)
	}
	b.log.InfoContext(ctx, "dev mailbox: mail kept", "to", m.To, "subject", m.Subject, "link", m.Link)
	return nil
}

// List returns the mails to one address ("" for all), newest first.
func (b *DevMailbox) List(to string) []DevMail {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []DevMail{}
	for i := len(b.mail) - 1; i >= 0; i-- {
		if to == "" || b.mail[i].To == to {
			out = append(out, b.mail[i])
		}
	}
	return out
}
