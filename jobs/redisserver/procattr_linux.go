//go:build linux

package redisserver

import "syscall"

// sysProcAttr has Linux send redis-server SIGTERM when its parent dies, so a
// crash of this process does not leave it running. Linux tracks the thread
// that started the child, not the process: Go only ends a thread when a
// goroutine exits while locked to it (runtime.LockOSThread), which nothing
// that starts a Server does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
