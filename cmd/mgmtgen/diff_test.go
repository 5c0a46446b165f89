package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestUnifiedDiffExact(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	b := "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n"
	want := `--- old
+++ new
@@ -2,9 +2,10 @@
 b
 c
 d
-e
+E
 f
 g
 h
 i
 j
+k
`
	if got := unifiedDiff("old", "new", []byte(a), []byte(b)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := unifiedDiff("old", "new", []byte(a), []byte(a)); got != "" {
		t.Errorf("equal inputs: %q", got)
	}
	want = "--- /dev/null\n+++ new\n@@ -0,0 +1,2 @@\n+x\n+y\n"
	if got := unifiedDiff("/dev/null", "new", nil, []byte("x\ny\n")); got != want {
		t.Errorf("from empty: got\n%s", got)
	}
	want = "--- old\n+++ new\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+x\n"
	if got := unifiedDiff("old", "new", []byte("x"), []byte("x\n")); got != want {
		t.Errorf("no newline: got\n%q", got)
	}
}

// TestUnifiedDiffApplies applies the diffs of random edits back to the old
// text and checks the result is the new text: hunk headers, context and
// line counts are consistent.
func TestUnifiedDiffApplies(t *testing.T) {
	t.Run("lcs", func(t *testing.T) { applyRandom(t) })
	t.Run("fallback", func(t *testing.T) {
		defer func(n int) { maxLCSCells = n }(maxLCSCells)
		maxLCSCells = 0
		applyRandom(t)
	})
}

func applyRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		a := randomLines(r, r.IntN(40))
		b := mutate(r, a)
		d := unifiedDiff("a", "b", []byte(join(a)), []byte(join(b)))
		got, err := apply(join(a), d)
		if err != nil || got != join(b) {
			t.Fatalf("case %d: %v\na:\n%s\nb:\n%s\ndiff:\n%s\ngot:\n%s", i, err, join(a), join(b), d, got)
		}
	}
}

func join(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func randomLines(r *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(r.IntN(8))
	}
	return out
}

func mutate(r *rand.Rand, a []string) []string {
	b := append([]string(nil), a...)
	for range r.IntN(6) {
		switch i := r.IntN(len(b) + 1); r.IntN(3) {
		case 0:
			b = append(b[:i], append([]string{"new" + strconv.Itoa(r.IntN(9))}, b[i:]...)...)
		case 1:
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		default:
			if i < len(b) {
				b[i] = "chg"
			}
		}
	}
	return b
}

// apply applies a unified diff to old, checking every context and removed
// line and every hunk header.
func apply(old, diff string) (string, error) {
	if diff == "" {
		return old, nil
	}
	src := strings.Split(strings.TrimSuffix(old, "\n"), "\n")
	if old == "" {
		src = nil
	}
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")[2:]
	var out []string
	pos := 0
	for len(lines) > 0 {
		f := strings.Fields(lines[0])
		if len(f) != 4 || f[0] != "@@" || f[3] != "@@" {
			return "", fmt.Errorf("bad header %q", lines[0])
		}
		as, an := hunkHeader(f[1][1:])
		_, bn := hunkHeader(f[2][1:])
		start := as - 1
		if an == 0 {
			start = as
		}
		out = append(out, src[pos:start]...)
		pos = start
		lines = lines[1:]
		gotA, gotB := 0, 0
		for len(lines) > 0 && !strings.HasPrefix(lines[0], "@@") {
			l := lines[0]
			lines = lines[1:]
			switch l[0] {
			case ' ', '-':
				if pos >= len(src) || src[pos] != l[1:] {
					return "", fmt.Errorf("line %d: want %q", pos+1, l[1:])
				}
				pos++
				gotA++
				if l[0] == ' ' {
					out = append(out, l[1:])
					gotB++
				}
			case '+':
				out = append(out, l[1:])
				gotB++
			}
		}
		if gotA != an || gotB != bn {
			return "", fmt.Errorf("hunk counts %d,%d, header says %d,%d", gotA, gotB, an, bn)
		}
	}
	out = append(out, src[pos:]...)
	return join(out), nil
}

// hunkHeader parses "l,n" or "l" (n = 1).
func hunkHeader(s string) (line, n int) {
	l, c, ok := strings.Cut(s, ",")
	line, _ = strconv.Atoi(l)
	n = 1
	if ok {
		n, _ = strconv.Atoi(c)
	}
	return line, n
}
