//go:build unix && !linux

package embeddedmongo

import "syscall"

// sysProcAttr runs a child as cred's user (nil: ours). Only Linux can tie
// the child's life to ours (deathSig is unused): elsewhere a cluster left
// behind by a crash is found through its postmaster.pid and reused by the
// next start.
func sysProcAttr(cred *syscall.Credential, _ syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
