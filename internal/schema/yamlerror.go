package schema

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// This file places YAML syntax errors. yaml.v3 reports them as text with a
// line and no column, and its parser's line is where the unfinished
// construct started (a mapping lines above the mistake), not the mistake.
// yamlError finds the line that breaks the parse (the shortest prefix of
// the file that fails the same way, also for the scanner's errors, whose
// line is off by one at times), a column where the text shows one, and
// a hint for the two slips a schema invites: a type starting with * or []
// written unquoted (YAML reads an alias or a list), and a ": " inside a
// value of a flow mapping {...} (YAML reads another key).

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
	// unquotedType is a value that starts like a list or pointer type.
	unquotedType = regexp.MustCompile(`:[ \t]+((\[\]|\*)[A-Za-z_][A-Za-z0-9_.\[\]*]*)`)
)

// yamlError reports err, yaml.v3's syntax error for src.
func (d *decoder) yamlError(src []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		msg = m[2] // its line is not the problem's: see problemLine
	}
	var line int
	lines := strings.Split(string(src), "\n")
	col, hint := 0, ""
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		line, col, hint = findAlias(lines, m[1])
	} else {
		line = problemLine(lines, msg)
		col, hint = slipAt(lines, line)
		l := ""
		if line <= len(lines) {
			l = lines[line-1]
		}
		switch {
		case col != 0:
		case strings.HasPrefix(msg, "did not find expected key"), strings.HasPrefix(msg, "did not find expected '-'"):
			col = indentCol(l) // the line that breaks the block
		case strings.Contains(msg, "tab character"):
			if i := strings.IndexByte(l, '\t'); i >= 0 {
				col = runeCol(l, i)
			}
		}
	}
	d.r.errorf(Pos{File: d.path, Line: max(line, 1), Col: col}, "invalid yaml: %s%s", msg, hint)
}

// problemLine returns the first line n such that the file's first n lines
// fail to parse with msg: the line that breaks the parse. Prefixes that fail
// are a suffix of the range, so a binary search needs a handful of parses.
func problemLine(lines []string, msg string) int {
	lo, hi := 1, len(lines)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if failsWith(lines[:mid], msg) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// failsWith reports whether the YAML text of lines fails with msg.
func failsWith(lines []string, msg string) bool {
	dec := yaml.NewDecoder(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		return !errors.Is(err, io.EOF) && strings.HasSuffix(err.Error(), msg)
	}
}

// findAlias finds the first *name in lines that YAML reads as an alias.
func findAlias(lines []string, name string) (line, col int, hint string) {
	re := regexp.MustCompile(`(^|[ \t\[{,:])(\*` + regexp.QuoteMeta(name) + `)`)
	for i, l := range lines {
		if m := re.FindStringSubmatchIndex(l); m != nil {
			return i + 1, runeCol(l, m[4]), quoteHint("*" + name)
		}
	}
	return 1, 0, quoteHint("*" + name)
}

// slipAt looks on line for the two slips and returns the column of the one
// found and its hint.
func slipAt(lines []string, line int) (col int, hint string) {
	if line < 1 || line > len(lines) {
		return 0, ""
	}
	l := lines[line-1]
	if m := unquotedType.FindStringSubmatchIndex(l); m != nil {
		return runeCol(l, m[2]), quoteHint(l[m[2]:m[3]])
	}
	if i, flow := secondColon(l); i >= 0 {
		if flow {
			return runeCol(l, i), ` (a ": " inside a value of a flow mapping {...} starts another key: quote the value)`
		}
		return runeCol(l, i), ` (a ": " inside a value starts a mapping: quote the value)`
	}
	return 0, ""
}

func quoteHint(value string) string {
	return fmt.Sprintf(" (an unquoted value starting with %q is YAML syntax, not a type: quote it, %q)", value[:1], value)
}

// secondColon returns the byte offset of a ": " that follows another one in
// the same value (outside quotes), and whether it is inside a flow mapping;
// -1 when there is none.
func secondColon(l string) (int, bool) {
	depth, colons := 0, 0
	var quote byte
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || l[i-1] == ' '):
			return -1, false
		case c == '{' || c == '[':
			depth++
			colons = 0
		case c == '}' || c == ']':
			depth--
			colons = 0
		case c == ',' && depth > 0:
			colons = 0
		case c == ':' && (i+1 == len(l) || l[i+1] == ' ' || l[i+1] == '\t'):
			if colons++; colons == 2 {
				return i, depth > 0
			}
		}
	}
	return -1, false
}

// indentCol is the column of l's first non-blank character, 0 for none.
func indentCol(l string) int {
	i := len(l) - len(strings.TrimLeft(l, " \t"))
	if i == len(l) {
		return 0
	}
	return runeCol(l, i)
}

// runeCol is the 1-based column, in characters, of byte offset i of l.
func runeCol(l string, i int) int {
	return utf8.RuneCountInString(l[:i]) + 1
}
