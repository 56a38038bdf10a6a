package conformance

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// DefaultTimeout bounds each check when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Sentinel errors found in check details and in Run's option check.
var (
	// ErrOptions: the options name no plugin kind the kit knows.
	ErrOptions = errors.New("conformance: invalid options")
	// ErrConfigRequired: the plugin's schema has required settings without
	// defaults, so the kit cannot build a config; give one in Options.Config.
	ErrConfigRequired = errors.New("the plugin's config schema has required settings without defaults: a config must be given")
	// ErrViolation: the plugin answered, but against the contract.
	ErrViolation = errors.New("contract violation")
)

// Options says which plugin to check and how.
type Options struct {
	// Kind is the plugin kind to check: fee, consensus, prover or da.
	Kind string
	// Path is the plugin binary.
	Path string
	// Name is the plugin's name as in plugin "<kind>" "<name>". Empty takes
	// the name the binary reports in Info.
	Name string
	// Config is the JSON object handed to Configure, as the host would after
	// decoding a config {} block. Nil builds it from the schema's defaults.
	Config []byte
	// Args are passed to the binary.
	Args []string
	// Timeout bounds each check (and the plugin's start and each call);
	// zero means DefaultTimeout.
	Timeout time.Duration
	// Logger receives the runtime's and the plugin's log lines; nil discards
	// them.
	Logger hclog.Logger
}

// Check is the outcome of one named check.
type Check struct {
	// Name is "<area>/<what>", e.g. "fee/price-block-split-sums"; area is
	// "common" or the kind.
	Name string
	// Passed is true when the check ran and held. A skipped check is
	// neither passed nor failed.
	Passed  bool
	Skipped bool
	// Detail says why a check failed or was skipped.
	Detail   string
	Duration time.Duration
}

// Failed reports whether the check ran and did not hold.
func (c Check) Failed() bool { return !c.Passed && !c.Skipped }

// Report holds every check of one run, in the order they ran.
type Report struct {
	Kind, Name, Path string
	// SHA256 is the hex checksum the kit pinned the binary with.
	SHA256 string
	Checks []Check
}

// Passed reports whether no check failed. Skipped checks do not fail a
// report, but a report with no passed check does.
func (r *Report) Passed() bool {
	if r == nil {
		return false
	}
	passed := 0
	for _, c := range r.Checks {
		if c.Failed() {
			return false
		}
		if c.Passed {
			passed++
		}
	}
	return passed > 0
}

// Counts returns the number of passed, failed and skipped checks.
func (r *Report) Counts() (passed, failed, skipped int) {
	for _, c := range r.Checks {
		switch {
		case c.Passed:
			passed++
		case c.Skipped:
			skipped++
		default:
			failed++
		}
	}
	return passed, failed, skipped
}

// Check returns the check called name, if it ran or was skipped.
func (r *Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Write prints one line per check and a summary line:
//
//	PASS  fee/price-block-split-sums        (3ms)
//	FAIL  common/health                     (1ms): status STATUS_NOT_SERVING
//	SKIP  fee/quote: capability "fee.quote" not declared
//	12 passed, 1 failed
//
// The summary line has exactly the form "N passed, M failed", for CI tools.
// Lines of a multi-line detail are indented under their check.
func (r *Report) Write(w io.Writer) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	for _, c := range r.Checks {
		detail := strings.ReplaceAll(strings.TrimRight(c.Detail, "\n"), "\n", "\n      ")
		switch {
		case c.Skipped:
			fmt.Fprintf(&b, "SKIP  %s", c.Name)
			if detail != "" {
				b.WriteString(": " + detail)
			}
		case c.Passed:
			fmt.Fprintf(&b, "PASS  %-*s   (%s)", width, c.Name, formatDuration(c.Duration))
		default:
			fmt.Fprintf(&b, "FAIL  %-*s   (%s): %s", width, c.Name, formatDuration(c.Duration), detail)
		}
		b.WriteByte('\n')
	}
	passed, failed, _ := r.Counts()
	fmt.Fprintf(&b, "%d passed, %d failed\n", passed, failed)
	_, err := io.WriteString(w, b.String())
	return err
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "<1ms"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}
