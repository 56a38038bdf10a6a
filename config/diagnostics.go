package config

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
)

// MaxRenderedDiagnostics bounds how many diagnostics one WriteDiagnostics
// call renders; the rest are counted in a closing line. (Rendering scans the
// source once per diagnostic, and a garbled file can produce thousands.)
const MaxRenderedDiagnostics = 25

// WriteDiagnostics renders diags as Terraform does — severity and summary,
// the file:line:column, a snippet of the source with the subject
// highlighted, the values of variables involved, and the detail — using the
// sources in c.Files. Color is used only when w is a terminal and NO_COLOR is
// unset. c may be nil (no snippets).
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	var files map[string]*hcl.File
	if c != nil {
		files = c.Files
	}
	return WriteDiagnostics(w, files, diags)
}

// WriteDiagnostics is Config.WriteDiagnostics for callers that hold only the
// file map.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	color, width := false, uint(0)
	if isTerminal(w) {
		width = 100
		_, noColor := os.LookupEnv("NO_COLOR")
		color = !noColor
	}
	var buf bytes.Buffer
	shown := diags
	if len(shown) > MaxRenderedDiagnostics {
		shown = shown[:MaxRenderedDiagnostics]
	}
	for _, diag := range shown {
		buf.Reset()
		if err := hcl.NewDiagnosticTextWriter(&buf, files, width, color).WriteDiagnostic(diag); err != nil {
			return err
		}
		out := buf.Bytes()
		if diag.Subject != nil {
			// HCL writes "on FILE line N"; say FILE:LINE:COLUMN, which
			// editors and terminals turn into links.
			s := diag.Subject
			old := fmt.Appendf(nil, "  on %s line %d", s.Filename, s.Start.Line)
			repl := fmt.Appendf(nil, "  on %s:%d:%d", s.Filename, s.Start.Line, s.Start.Column)
			out = bytes.Replace(out, old, repl, 1)
		}
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
	}
	if rest := len(diags) - len(shown); rest > 0 {
		if _, err := fmt.Fprintf(w, "... and %d more diagnostics not shown; fix the ones above first.\n", rest); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
