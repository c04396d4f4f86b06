package social

import (
	"context"
	"time"
)

// pause pauses network for d after err (ErrOperator), deployment-wide,
// and tells the operator: an error in the log, the pause on /readyz.
func (s *Service) pause(ctx context.Context, network string, d time.Duration, reason string, err error) {
	s.log.ErrorContext(ctx, "network refuses the deployment's app: publishing to it is paused until the operator acts",
		"network", network, "pause", d.String(), "err", err)
	if s.pauses == nil {
		return
	}
	if perr := s.pauses.Pause(ctx, network, d, reason); perr != nil {
		s.log.WarnContext(ctx, "network pause not recorded; each share waits on its own", "network", network, "err", perr)
	}
}

// paused is how long network stays paused for the operator (0: it is
// not) and why. A store that cannot say lets the share go ahead: the
// network answers again and pauses again.
func (s *Service) paused(ctx context.Context, network string) (time.Duration, string) {
	if s.pauses == nil {
		return 0, ""
	}
	wait, reason, err := s.pauses.Paused(ctx, network)
	if err != nil {
		s.log.WarnContext(ctx, "network pauses unavailable; publishing without them", "network", network, "err", err)
		return 0, ""
	}
	return wait, reason
}

// NetworkPause is a network paused for the operator.
type NetworkPause struct {
	Network string        `json:"network"`
	For     time.Duration `json:"-"`
	Until   time.Time     `json:"until"`
	Reason  string        `json:"reason"`
}

// PausedNetworks lists the served networks paused for the operator, for
// the health page; a store that cannot say is an error.
func (s *Service) PausedNetworks(ctx context.Context) ([]NetworkPause, error) {
	if s.pauses == nil {
		return nil, nil
	}
	var out []NetworkPause
	for _, n := range s.networks.Names() {
		wait, reason, err := s.pauses.Paused(ctx, n)
		if err != nil {
			return nil, err
		}
		if wait > 0 {
			out = append(out, NetworkPause{Network: n, For: wait, Until: s.now().UTC().Add(wait).Truncate(time.Second), Reason: reason})
		}
	}
	return out, nil
}
