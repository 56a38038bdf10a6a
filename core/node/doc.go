// Package node wires a Trellis node from its configuration: the bbolt
// store, the metrics registry and endpoint, the host services and one
// supervised plugin per configured kind. Errors that concern the config file
// come back as hcl.Diagnostics pointing at file:line:column.
package node
