// Package config loads a Trellis node's HCL configuration file.
//
// It follows Terraform and Nomad: the file is parsed with hcl/v2, every
// problem is an hcl.Diagnostic with the exact source range, and
// WriteDiagnostics renders them with file:line:column and a snippet of the
// offending source. Everything optional has a documented default (the
// Default* constants), so a file holding only plugin blocks is a complete
// configuration.
//
// A plugin's own `config {}` block is kept as an undecoded hcl.Body: its shape
// is only known once the plugin process has answered ConfigSchema, and
// DecodePluginConfig then decodes it against that schema with the same
// variables and functions as the rest of the file, so a typo in a plugin
// setting is still reported at its line and column.
//
// Adding a setting to a host block (node, network, storage, rpc, metrics):
// add the field to the struct, its name to the block's schema in sections.go,
// one decoder call with its default and check, and a line to
// docs/configuration.md. Unknown attributes are rejected by the schema, so a
// field that is not added there cannot be set by accident.
package config
