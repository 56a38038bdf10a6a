// Package schema is how a Trellis plugin declares the shape of its `config {}`
// block.
//
// A plugin returns a *Schema from its ConfigSchema RPC. The host validates it
// (the plugin is another process and is not trusted), turns it into an hcldec
// spec, decodes the operator's `config {}` block against it — so a typo in a
// plugin setting is reported with the file, line and column before any plugin
// starts — and sends the result to the plugin as plain JSON, which the plugin
// reads with DecodeJSON.
//
// The package is deliberately small and depends only on hcl/v2 and go-cty, so
// that plugin binaries stay light. Types and default values cross the process
// boundary as JSON (MarshalType / UnmarshalType, MarshalValue /
// UnmarshalValue); every decoder returns an error for bad input, never panics.
package schema
