//go:build linux

package embeddedmongo

import "syscall"

// sysProcAttr runs a child as cred's user (nil: ours) and has Linux send it
// deathSig when this process dies, so a crash does not leave it running. Go
// sets the parent-death signal after changing the credentials, which would
// clear it. Linux tracks the thread
// that started the child: nothing that starts a cluster locks its goroutine
// to a thread that then exits. The child runs in a process group of its
// own, so a terminal's Ctrl-C (sent to the whole foreground group) reaches
// Chorus only, whose graceful stop still writes to the store and then
// stops it.
func sysProcAttr(cred *syscall.Credential, deathSig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: deathSig, Setpgid: true}
}
