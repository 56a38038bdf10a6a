// Package securefile writes key files: mode 0600, synced, and replaced
// atomically, so a crash leaves the old key or the new one, never half.
package securefile
