package supervisor

import (
	"context"
	"fmt"
	"time"
)

// waitState is used by tests: it polls until process id reaches state.
func (s *Supervisor) waitState(ctx context.Context, id string, want State) error {
	for {
		e, err := s.Status(id)
		if err != nil {
			return err
		}
		if e.State == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process %q: state %s, want %s: %w", id, e.State, want, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
