//go:build !linux

package embeddedredis

import "syscall"

// sysProcAttr returns nil: only Linux can tie the child's life to ours. A
// redis-server left behind by a crash is found by the next Start on the same
// dir, which refuses to start and says how to shut it down.
func sysProcAttr() *syscall.SysProcAttr { return nil }
