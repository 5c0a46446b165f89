package main

import (
	"fmt"
	"strings"
)

// diffContext is the number of unchanged lines shown around each change.
const diffContext = 3

// maxLCSCells bounds the LCS table (lines of a times lines of b, after the
// common prefix and suffix are trimmed). Past it the changed middle is shown
// as removed then added: still a correct diff, just not a minimal one.
var maxLCSCells = 16 << 20 // a var so tests can force the fallback

// edit is one line of an edit script: ' ' kept, '-' removed, '+' added.
type edit struct {
	op   byte
	text string
}

// unifiedDiff returns the unified diff turning a into b, "" when they are
// equal.
func unifiedDiff(aName, bName string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	edits := diffLines(splitLines(string(a)), splitLines(string(b)))
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", aName, bName)
	for _, h := range hunks(edits) {
		writeHunk(&sb, edits, h)
	}
	return sb.String()
}

// splitLines splits s into lines without their "\n"; a last line without a
// newline is marked as diff(1) does.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = l[:len(l)-1]
		} else {
			lines[i] = l + "\n\\ No newline at end of file"
		}
	}
	return lines
}

// diffLines returns an edit script from a to b: common prefix and suffix,
// and a longest-common-subsequence script for the middle.
func diffLines(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []edit
	for _, l := range a[:pre] {
		out = append(out, edit{' ', l})
	}
	out = append(out, lcsEdits(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		out = append(out, edit{' ', l})
	}
	return out
}

// lcsEdits is the edit script of a dynamic-programming LCS of a and b.
func lcsEdits(a, b []string) []edit {
	var out []edit
	if len(a)*len(b) > maxLCSCells {
		for _, l := range a {
			out = append(out, edit{'-', l})
		}
		for _, l := range b {
			out = append(out, edit{'+', l})
		}
		return out
	}
	// l[i][j] is the LCS length of a[i:] and b[j:].
	w := len(b) + 1
	l := make([]int32, (len(a)+1)*w)
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i*w+j] = l[(i+1)*w+j+1] + 1
			} else {
				l[i*w+j] = max(l[(i+1)*w+j], l[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, edit{' ', a[i]})
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || l[(i+1)*w+j] >= l[i*w+j+1]):
			out = append(out, edit{'-', a[i]})
			i++
		default:
			out = append(out, edit{'+', b[j]})
			j++
		}
	}
	return out
}

// hunk is a range [start, end) of an edit script.
type hunk struct{ start, end int }

// hunks groups the changes of edits with diffContext lines around them,
// merging groups whose context would touch.
func hunks(edits []edit) []hunk {
	var hs []hunk
	for i, e := range edits {
		if e.op == ' ' {
			continue
		}
		start := max(0, i-diffContext)
		end := min(len(edits), i+1+diffContext)
		if n := len(hs); n > 0 && start <= hs[n-1].end {
			hs[n-1].end = end
			continue
		}
		hs = append(hs, hunk{start, end})
	}
	return hs
}

// writeHunk writes one hunk with its "@@ -a,n +b,m @@" header.
func writeHunk(sb *strings.Builder, edits []edit, h hunk) {
	aLine, bLine := 1, 1
	for _, e := range edits[:h.start] {
		if e.op != '+' {
			aLine++
		}
		if e.op != '-' {
			bLine++
		}
	}
	aN, bN := 0, 0
	for _, e := range edits[h.start:h.end] {
		if e.op != '+' {
			aN++
		}
		if e.op != '-' {
			bN++
		}
	}
	fmt.Fprintf(sb, "@@ -%s +%s @@\n", hunkRange(aLine, aN), hunkRange(bLine, bN))
	for _, e := range edits[h.start:h.end] {
		sb.WriteByte(e.op)
		sb.WriteString(e.text)
		sb.WriteByte('\n')
	}
}

// hunkRange formats a hunk's line range as diff -u does: "l,n", "l" for one
// line, and "l-1,0" for an empty range.
func hunkRange(line, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", line-1)
	case 1:
		return fmt.Sprintf("%d", line)
	}
	return fmt.Sprintf("%d,%d", line, n)
}
