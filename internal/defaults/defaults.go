// Package defaults holds the one rule by which the host's option structs
// fill unset numeric settings: zero or negative means the default. Each
// package keeps its Default constants; this package only applies them.
package defaults

// Number is what Positive takes: integer counts, sizes and durations.
type Number interface {
	~int | ~int32 | ~int64 | ~uint32 | ~uint64 | ~float64
}

// Positive sets *v to d when *v is zero or negative.
func Positive[T Number](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
