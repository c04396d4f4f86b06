//go:build !unix

package childproc

import "os"

// SocketDir returns a new temporary directory: without unix sockets there
// is nothing to share between processes.
func SocketDir(prefix, dir string, uid int) (string, error) {
	return os.MkdirTemp("", prefix)
}

// TryLock always succeeds: without flock one process owns a data dir.
func TryLock(path string) (release func(), ok bool, err error) {
	return func() {}, true, nil
}
