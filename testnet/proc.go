//go:build linux

package testnet

// Process control of testnet nodes through Linux's /proc. Each node leads
// its own session (Setsid), so the session id is the node's PID. The plugin
// runtime puts each plugin in a process group of its own, but a plugin stays
// in its node's session: the session, not the group, is "the node and its
// plugins", and it outlives the node if a plugin lingers after a crash.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat is what testnet needs of /proc/<pid>/stat.
type procStat struct {
	PID   int
	State byte // R, S, D, T (stopped), t, Z (zombie), X ...
	PGID  int
	SID   int
	Ticks uint64 // utime + stime, in clock ticks
	RSS   uint64 // resident set, in pages
}

// clockTicks is USER_HZ, the unit of utime and stime: 100 on every Linux
// platform Go supports.
const clockTicks = 100

// parseProcStat parses the text of /proc/<pid>/stat. The command name, in
// parentheses, may itself hold spaces and parentheses: fields are counted
// from the last ')'.
func parseProcStat(s string) (procStat, error) {
	var st procStat
	open := strings.IndexByte(s, '(')
	closing := strings.LastIndexByte(s, ')')
	if open < 1 || closing < open || closing+2 > len(s) {
		return st, fmt.Errorf("proc stat %.60q: no (command)", s)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return st, fmt.Errorf("proc stat %.60q: pid: %v", s, err)
	}
	f := strings.Fields(s[closing+1:])
	// f[0] is field 3 (state), f[2] field 5 (pgrp), f[3] field 6 (session),
	// f[11] and f[12] fields 14 and 15 (utime, stime), f[21] field 24
	// (rss).
	if len(f) < 22 || len(f[0]) != 1 {
		return st, fmt.Errorf("proc stat %.60q: %d fields after the command, want at least 22", s, len(f))
	}
	pgid, err1 := strconv.Atoi(f[2])
	sid, err2 := strconv.Atoi(f[3])
	ut, err3 := strconv.ParseUint(f[11], 10, 64)
	stm, err4 := strconv.ParseUint(f[12], 10, 64)
	rss, err5 := strconv.ParseUint(f[21], 10, 64)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return st, fmt.Errorf("proc stat %.60q: %v", s, err)
	}
	return procStat{PID: pid, State: f[0][0], PGID: pgid, SID: sid, Ticks: ut + stm, RSS: rss}, nil
}

func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	st, err := parseProcStat(string(b))
	return st, err == nil
}

func (s procStat) live() bool { return s.State != 'Z' && s.State != 'X' }

// sessionProcs lists the live processes of session sid.
func sessionProcs(sid int) []procStat {
	if sid <= 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProcStat(pid); ok && st.SID == sid && st.live() {
			out = append(out, st)
		}
	}
	return out
}

// NodeProc reports the node's process if it is alive and is the node (its
// command line names the node's config), guarding against a reused PID.
func NodeProc(n Node) (procStat, bool) {
	if n.PID <= 0 {
		return procStat{}, false
	}
	st, ok := readProcStat(n.PID)
	if !ok || !st.live() {
		return st, false
	}
	cmd, err := os.ReadFile("/proc/" + strconv.Itoa(n.PID) + "/cmdline")
	if err != nil || !bytes.Contains(cmd, []byte(n.Config)) {
		return st, false
	}
	return st, true
}

// NodeGroup lists the live processes of the node's session: the node and
// its plugins, or the plugins a killed node left behind.
func NodeGroup(n Node) []procStat { return sessionProcs(n.PID) }

// startNodeProcess starts `trellis run` for n in a new session, appending
// its output to n.Log. It returns the PID and a channel closed when the
// process exits (reaped by this process while it lives).
func startNodeProcess(binary string, n Node, env ...string) (int, <-chan struct{}, error) {
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n=== trellis testnet: starting %s at %s ===\n", n.Name, time.Now().UTC().Format(time.RFC3339))
	if err := closeOnExecAll(); err != nil {
		return 0, nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	cmd := exec.Command(binary, "run", "-config", n.Config)
	cmd.Dir = n.Dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("%s: starting %s: %w", n.Name, binary, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return cmd.Process.Pid, done, nil
}

// closeOnExecAll marks every descriptor above stderr close-on-exec. Go
// opens its own files so, but descriptors this process inherited (a lock
// the calling shell holds, say) would otherwise pass on to nodes that live
// long after the command returns, and keep the lock held.
func closeOnExecAll() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing open descriptors: %w", err)
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}

// signalGroup sends sig to every process of the node's session: the node
// and its plugins.
func signalGroup(n Node, sig syscall.Signal) error {
	if n.PID <= 0 {
		return fmt.Errorf("%s has no process", n.Name)
	}
	var errs []error
	for _, p := range NodeGroup(n) {
		if err := syscall.Kill(p.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("%s: signal %v to pid %d: %w", n.Name, sig, p.PID, err))
		}
	}
	return errors.Join(errs...)
}

// waitGroupGone polls until the node's group has no live process, up to d.
func waitGroupGone(n Node, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if len(NodeGroup(n)) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopNode stops a node and its plugins: SIGTERM to the node, which stops
// its plugins in order (with SIGCONT to the session, so a paused node sees
// it; a node already dead has its leftover plugins sent SIGTERM), then
// SIGKILL to the whole session after timeout. It says how it went.
func stopNode(n Node, timeout time.Duration) (string, error) {
	if len(NodeGroup(n)) == 0 {
		return "not running", nil
	}
	start := time.Now()
	if _, ok := NodeProc(n); ok {
		if err := syscall.Kill(n.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return "", fmt.Errorf("%s: SIGTERM to pid %d: %w", n.Name, n.PID, err)
		}
	} else if err := signalGroup(n, syscall.SIGTERM); err != nil {
		return "", err
	}
	_ = signalGroup(n, syscall.SIGCONT)
	if waitGroupGone(n, timeout) {
		return fmt.Sprintf("stopped (SIGTERM, %.1fs)", time.Since(start).Seconds()), nil
	}
	if err := signalGroup(n, syscall.SIGKILL); err != nil {
		return "", err
	}
	if waitGroupGone(n, 5*time.Second) {
		return fmt.Sprintf("killed (no exit %s after SIGTERM; SIGKILL)", timeout), nil
	}
	return "", fmt.Errorf("%s: session %d still has processes after SIGKILL", n.Name, n.PID)
}

// LogTail returns the last lines of a node's log.
func LogTail(path string, lines int) string {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
