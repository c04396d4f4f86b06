//go:build unix

package childproc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// SocketDir returns the directory for the unix sockets of the server whose
// data is in dir when dir's own path is too long for a socket: the same
// directory for the same dir in every process, so that clients reconnect
// to a server restarted by another process, under the system temporary
// directory. It is created 0700; an existing one must be a directory, not
// a link, of mode 0700 owned by uid, else SocketDir says to remove it.
func SocketDir(prefix, dir string, uid int) (string, error) {
	sum := sha256.Sum256([]byte(dir))
	d := filepath.Join(os.TempDir(), prefix+hex.EncodeToString(sum[:8]))
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	fi, err := os.Lstat(d)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 || !ok || int(st.Uid) != uid && int(st.Uid) != os.Geteuid() {
		return "", fmt.Errorf("%s is not a private directory of this user (mode 0700): remove it", d)
	}
	return d, nil
}

// TryLock takes an exclusive lock (flock) on the file at path, created
// 0600 if missing, without waiting. ok is false when another process holds
// it. release drops it; so does the end of the process, however it ends.
func TryLock(path string) (release func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, true, nil
}
