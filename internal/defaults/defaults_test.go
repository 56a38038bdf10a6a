package defaults

import (
	"testing"
	"time"
)

func TestPositive(t *testing.T) {
	n, neg, set := 0, -3, 7
	Positive(&n, 5)
	Positive(&neg, 5)
	Positive(&set, 5)
	d := time.Duration(0)
	Positive(&d, time.Second)
	if n != 5 || neg != 5 || set != 7 || d != time.Second {
		t.Fatalf("got %d %d %d %v", n, neg, set, d)
	}
}
