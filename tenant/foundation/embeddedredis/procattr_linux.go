//go:build linux

package embeddedredis

import "syscall"

// sysProcAttr has Linux send redis-server SIGTERM when its parent dies, so a
// crash of this process does not leave it running. Linux tracks the thread
// that started the child, not the process: Go only ends a thread when a
// goroutine exits while locked to it (runtime.LockOSThread), which nothing
// that starts a Server does. It runs in a process group of its own, so a
// terminal's Ctrl-C (sent to the whole foreground group) reaches Chorus
// only, whose graceful stop still needs Redis and then stops it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
}
