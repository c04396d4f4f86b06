package tenant

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chorushq/chorus/tenant/tenanttest"
)

// startSMTPCatcher runs Debian's aiosmtpd as a real SMTP server on
// loopback, storing what it receives in a Maildir; it returns the port and
// the Maildir.
func startSMTPCatcher(t *testing.T) (int, string) {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import aiosmtpd").Run(); err != nil {
		tenanttest.Missing(t, "the aiosmtpd SMTP server", "apt-get install python3-aiosmtpd")
	}
	// aiosmtpd cannot report a port it picked, so take a free one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	maildir := filepath.Join(t.TempDir(), "Maildir")
	cmd := exec.Command(python, "-m", "aiosmtpd", "-n", "-l", fmt.Sprintf("127.0.0.1:%d", port),
		"-c", "aiosmtpd.handlers.Mailbox", maildir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return port, maildir
		}
		if time.Now().After(deadline) {
			t.Fatalf("aiosmtpd did not listen: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSMTPMailerDeliversToARealServer(t *testing.T) {
	port, maildir := startSMTPCatcher(t)
	m, err := NewSMTPMailer(fmt.Sprintf("smtp://127.0.0.1:%d?tls=none", port), "Chorus <no-reply@chorus.example>")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	link := "http://127.0.0.1:8080/api/v1/auth/email/callback?token=abc"
	if err := m.Send(ctx, Mail{To: "alice@acme.example", Subject: "Your Chorus sign-in link", Text: "Open " + link + "\n", Link: link}); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	deadline := time.Now().Add(10 * time.Second)
	for raw == nil {
		files, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
		if len(files) > 0 {
			if raw, err = os.ReadFile(files[0]); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no mail arrived in the Maildir")
		}
		time.Sleep(50 * time.Millisecond)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse delivered mail: %v\n%s", err, raw)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"to":      msg.Header.Get("To"),
		"from":    msg.Header.Get("From"),
		"subject": msg.Header.Get("Subject"),
		"body":    strings.TrimSpace(string(text)),
	}
	want := map[string]string{
		"to":      "<alice@acme.example>",
		"from":    `"Chorus" <no-reply@chorus.example>`,
		"subject": "Your Chorus sign-in link",
		"body":    "Open " + link,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered mail (-want +got):\n%s", diff)
	}
}

func TestSMTPMailerRequiresTLSByDefault(t *testing.T) {
	port, _ := startSMTPCatcher(t)
	m, err := NewSMTPMailer(fmt.Sprintf("smtp://127.0.0.1:%d", port), "no-reply@chorus.example")
	if err != nil {
		t.Fatal(err)
	}
	// The catcher offers no STARTTLS: a mailer that insists must refuse to
	// send in plain text.
	if err := m.Send(t.Context(), Mail{To: "alice@acme.example", Subject: "x", Text: "x"}); err == nil {
		t.Error("mail sent without TLS although the URL did not allow it")
	}
}

func TestNewSMTPMailerRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"http://mail.example", "smtp://", "smtp://mail.example:x", "smtp://mail.example?tls=maybe"} {
		if _, err := NewSMTPMailer(u, "no-reply@chorus.example"); err == nil {
			t.Errorf("NewSMTPMailer(%q) accepted it", u)
		}
	}
	if _, err := NewSMTPMailer("smtp://mail.example", "not an address"); err == nil {
		t.Error("a bad sender was accepted")
	}
}

func TestDevMailboxKeepsNewestFirst(t *testing.T) {
	clock := newTestClock()
	b := NewDevMailbox(2, slog.New(slog.DiscardHandler), clock.Now)
	for _, to := range []string{"a@x.example", "b@x.example", "a@x.example"} {
		b.Send(t.Context(), Mail{To: to, Subject: to})
		clock.Add(time.Second)
	}
	if got := b.List(""); len(got) != 2 || got[0].To != "a@x.example" || got[1].To != "b@x.example" {
		t.Errorf("List() = %+v, want the 2 newest, newest first", got)
	}
	if got := b.List("a@x.example"); len(got) != 1 {
		t.Errorf("List(a) = %+v, want 1", got)
	}
}
