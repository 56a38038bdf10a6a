package robustness

import (
	"reflect"
	"testing"
	"time"
)

// TestScheduleReplays: a seed is a schedule, the same on every run.
func TestScheduleReplays(t *testing.T) {
	a := Schedule(42, 4, 50, time.Second, 5*time.Second)
	b := Schedule(42, 4, 50, time.Second, 5*time.Second)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("one seed gave two schedules")
	}
	if reflect.DeepEqual(a, Schedule(43, 4, 50, time.Second, 5*time.Second)) {
		t.Fatal("two seeds gave one schedule")
	}
	kinds := map[Kind]bool{}
	for _, f := range a {
		kinds[f.Kind] = true
		if f.Node < 0 || f.Node >= 4 || f.Hold < time.Second || f.Hold >= 5*time.Second {
			t.Fatalf("fault out of range: %+v", f)
		}
		if f.Kind == RestartSkew && (f.Skew < -MaxSkew || f.Skew > MaxSkew) {
			t.Fatalf("skew out of bounds: %+v", f)
		}
		if f.Kind == Partition {
			seen := map[int]bool{}
			for _, g := range f.Groups {
				if len(g) == 0 {
					t.Fatalf("empty group: %+v", f)
				}
				for _, i := range g {
					if seen[i] {
						t.Fatalf("node in two groups: %+v", f)
					}
					seen[i] = true
				}
			}
			if len(seen) != 4 || len(f.Groups) < 2 {
				t.Fatalf("partition does not split every node: %+v", f)
			}
		}
	}
	if len(kinds) != len(Kinds) {
		t.Fatalf("50 faults drew %d of %d kinds", len(kinds), len(Kinds))
	}
}
