//go:build linux

package supervisor

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// childAttr puts a child in its own process group, and has the kernel
// SIGKILL it should procd itself die without stopping it (killed, or a
// test binary timing out): a child never outlives its supervisor.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// eachProc calls f for every process in /proc with its pid and the fields
// of its /proc/<pid>/stat after the command name: state, ppid, pgrp, ...
// (the name may hold spaces and parentheses); a process gone meanwhile is
// skipped.
func eachProc(f func(pid int, stat [][]byte)) error {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:]); len(fields) > 0 {
			f(pid, fields)
		}
	}
	return nil
}

// liveProcs maps every live process (zombies excluded) to its parent, from
// /proc/<pid>/stat.
func liveProcs() map[int]int {
	out := make(map[int]int)
	eachProc(func(pid int, f [][]byte) {
		if len(f) < 2 || f[0][0] == 'Z' || f[0][0] == 'X' {
			return
		}
		if ppid, err := strconv.Atoi(string(f[1])); err == nil {
			out[pid] = ppid
		}
	})
	return out
}

// hasMarker reports whether pid's environment holds the entry marker.
func hasMarker(pid int, marker []byte) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	return bytes.HasPrefix(b, marker[1:]) || bytes.Contains(b, marker)
}

// descendants returns the live processes descended from root through
// parent links, those whose environment carries marker ("\x00NAME=VALUE\x00")
// and their descendants, and those of also that are still alive; never root
// itself nor this process.
func descendants(root int, marker []byte, also []int) []int {
	procs := liveProcs()
	children := make(map[int][]int, len(procs))
	for pid, ppid := range procs {
		children[ppid] = append(children[ppid], pid)
	}
	self := os.Getpid()
	seen := map[int]bool{root: true, self: true}
	var out []int
	var walk func(pid int)
	walk = func(pid int) {
		for _, c := range children[pid] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(root)
	for _, pid := range also {
		if _, alive := procs[pid]; alive && !seen[pid] {
			seen[pid] = true
			out = append(out, pid)
			walk(pid)
		}
	}
	for pid := range procs {
		if !seen[pid] && hasMarker(pid, marker) {
			seen[pid] = true
			out = append(out, pid)
			walk(pid)
		}
	}
	return out
}
