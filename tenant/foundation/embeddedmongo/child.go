//go:build unix

package embeddedmongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/chorushq/chorus/tenant/foundation/childproc"
)

// child is a server this process runs as a child process.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *childproc.Lines

	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // cmd.Wait's result; read after exited closes

	stopMu  sync.Mutex
	stopped bool
}

// startChild starts bin with args as cred's user (nil: ours) in /, with a
// minimal environment, its output logged through log at Debug tagged
// component=name. Linux sends it deathSig if this process dies.
func startChild(name, bin string, args []string, cred *syscall.Credential, deathSig syscall.Signal, log *slog.Logger) (*child, error) {
	c := &child{
		name:   name,
		cmd:    exec.Command(bin, args...),
		out:    childproc.New(log.With(slog.String("component", name)), slog.LevelDebug),
		exited: make(chan struct{}),
	}
	c.cmd.Dir = "/"
	c.cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = sysProcAttr(cred, deathSig)
	c.cmd.WaitDelay = time.Second
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// waitReady calls ready every 20 ms until it returns nil, and returns an
// error quoting the child's last output if the child exits first, timeout
// passes or ctx ends.
func (c *child) waitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited before it was ready (%v); its last output:\n%s", c.name, c.waitErr, c.out.Tail())
		case <-ctx.Done():
			return fmt.Errorf("%s was not ready: %w (last error: %v); its last output:\n%s", c.name, context.Cause(ctx), err, c.out.Tail())
		case <-t.C:
		}
	}
}

// stop sends the child each of signals in turn, waiting up to grace after
// each, then kills it; if ctx ends first it kills it at once. It returns an
// error when the first signal was not enough. stop is idempotent.
func (c *child) stop(ctx context.Context, grace time.Duration, signals ...syscall.Signal) error {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true

	var errs []error
	for _, sig := range signals {
		_ = c.cmd.Process.Signal(sig) // fails only if it has exited
		timer := time.NewTimer(grace)
		select {
		case <-c.exited:
			timer.Stop()
			return errors.Join(errs...)
		case <-timer.C:
			errs = append(errs, fmt.Errorf("%s did not exit within %v of %v", c.name, grace, sig))
		case <-ctx.Done():
			timer.Stop()
			errs = append(errs, fmt.Errorf("%s stop: %w; killed it", c.name, context.Cause(ctx)))
			_ = c.cmd.Process.Kill()
			<-c.exited
			return errors.Join(errs...)
		}
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
	return errors.Join(append(errs, fmt.Errorf("%s killed", c.name))...)
}
