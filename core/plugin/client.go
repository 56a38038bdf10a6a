package plugin

import (
	"context"
	"fmt"
)

// KindClient returns the client of the kind service (feev1.FeeClient,
// proverv1.ProverClient, …) of the process s supervises, waiting while it
// restarts (Process), so callers reach a restarted plugin as soon as it
// answers. A nil s is a plugin of that kind not configured. Callers wrap
// the error with their own sentinel.
func KindClient[T any](ctx context.Context, s *Supervisor, kind string) (T, error) {
	var zero T
	if s == nil {
		return zero, fmt.Errorf("no %s plugin configured", kind)
	}
	p, err := s.Process(ctx)
	if err != nil {
		return zero, err
	}
	c, ok := p.Kind.(T)
	if !ok {
		return zero, fmt.Errorf("plugin %s is not a %s plugin", s.Status().Plugin, kind)
	}
	return c, nil
}
